//! Estimating m and u. u comes from random pairs of registry persons (almost all different
//! people); m and the match share λ come from expectation–maximisation over the blocked
//! pairs of queries and their candidates, with u held fixed, as Splink does.

use crate::score::{Comparison, Params, LEVELS};

/// Smallest probability kept, so that no level becomes impossible.
const FLOOR: f64 = 1e-6;

/// u per field and level from comparisons of random pairs; `prior` where a field was never
/// compared.
pub fn estimate_u(random_pairs: &[Comparison], prior: &Params) -> Params {
    let mut out = prior.clone();
    for (f, levels) in LEVELS.iter().enumerate() {
        let mut counts = vec![0.0; levels.len()];
        for c in random_pairs {
            if let Some(l) = c.levels[f] {
                counts[l as usize] += 1.0;
            }
        }
        let n: f64 = counts.iter().sum();
        if n >= 100.0 {
            // Laplace smoothing: a level never seen in the sample still gets a little mass.
            out.u[f] = counts
                .iter()
                .map(|c| ((c + 0.5) / (n + 0.5 * levels.len() as f64)).max(FLOOR))
                .collect();
        }
    }
    out
}

/// m and λ by EM over blocked pairs, u fixed. Stops after `iterations` or when λ moves less
/// than 1e-6.
pub fn estimate_m(pairs: &[Comparison], start: &Params, iterations: usize) -> Params {
    let mut p = start.clone();
    if pairs.is_empty() {
        return p;
    }
    for _ in 0..iterations {
        let mut m_counts: Vec<Vec<f64>> = LEVELS.iter().map(|l| vec![0.0; l.len()]).collect();
        let mut total = 0.0;
        for c in pairs {
            let (mut lm, mut lu) = (p.lambda.ln(), (1.0 - p.lambda).ln());
            for (f, level) in c.levels.iter().enumerate() {
                if let Some(l) = level {
                    lm += p.m[f][*l as usize].ln();
                    lu += p.u[f][*l as usize].ln();
                }
            }
            // P(match | levels), computed in log space.
            let w = 1.0 / (1.0 + (lu - lm).exp());
            total += w;
            for (f, level) in c.levels.iter().enumerate() {
                if let Some(l) = level {
                    m_counts[f][*l as usize] += w;
                }
            }
        }
        let lambda = (total / pairs.len() as f64).clamp(FLOOR, 1.0 - FLOOR);
        for (f, counts) in m_counts.iter().enumerate() {
            let n: f64 = counts.iter().sum();
            if n > 1.0 {
                p.m[f] = counts.iter().map(|c| (c / n).max(FLOOR)).collect();
            }
        }
        let moved = (lambda - p.lambda).abs();
        p.lambda = lambda;
        if moved < 1e-6 {
            break;
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(levels: [Option<u8>; 7]) -> Comparison {
        Comparison {
            levels,
            ..Default::default()
        }
    }

    #[test]
    fn em_recovers_a_planted_structure() {
        // 200 true pairs agreeing on almost everything, 800 random pairs that do not.
        let mut pairs = Vec::new();
        for i in 0..200 {
            let g = if i % 10 == 0 { 2 } else { 0 };
            pairs.push(cmp([
                Some(g),
                Some(0),
                None,
                None,
                Some(0),
                Some(0),
                Some(0),
            ]));
        }
        for i in 0..800 {
            let f = if i % 50 == 0 { 0 } else { 4 };
            pairs.push(cmp([
                Some(5),
                Some(f),
                None,
                None,
                Some(3),
                Some((i % 2) as u8),
                Some(3),
            ]));
        }
        let start = Params::default();
        let trained = estimate_m(&pairs, &start, 50);
        assert!(trained.is_valid());
        assert!((trained.lambda - 0.2).abs() < 0.02, "{}", trained.lambda);
        assert!((trained.m[0][0] - 0.9).abs() < 0.02, "{:?}", trained.m[0]);
        let u = estimate_u(&pairs[200..], &start);
        assert!(u.u[4][3] > 0.99);
        assert!(u.is_valid());
    }
}
