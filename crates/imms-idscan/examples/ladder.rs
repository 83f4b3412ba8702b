//! Tuning aid: which rungs of the PDF417 ladder read each photo of a seeded corpus.
//!
//! `cargo run --release -p imms-idscan --features testgen --example ladder -- [N] [SEED]`

use std::time::Instant;

use imms_idscan::testgen::{photo, AamvaCard, Degradation};
use imms_idscan::{intake, pdf417, Limits};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(50);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2026);
    let rungs = pdf417::ladder_len();
    let mut wins = vec![0usize; rungs];
    let mut ms = vec![0f64; rungs];
    let mut none = 0;
    let mut sets: Vec<Vec<bool>> = Vec::new();
    for i in 0..n {
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(i as u64));
        let card = AamvaCard::random(&mut rng);
        let d = Degradation::random(&mut rng);
        let symbol = photo::pdf417_symbol(&card.payload());
        let bytes = photo::photo_of_symbol(&symbol, &d, &mut rng);
        let gray = intake::decode_gray(&bytes, &Limits::default()).unwrap();
        let mut line = String::new();
        let mut any = false;
        let mut set = vec![false; rungs];
        for r in 0..rungs {
            let t = Instant::now();
            let ok = pdf417::try_rung(&gray, r).is_some();
            ms[r] += t.elapsed().as_secs_f64() * 1000.0;
            line.push(if ok { '#' } else { '.' });
            set[r] = ok;
            if ok {
                wins[r] += 1;
                any = true;
            }
        }
        if !any {
            none += 1;
        }
        sets.push(set);
        println!(
            "#{i:03} {line} slant {:6.1} angle {:6.1} persp {:.2} blur {:.2} w {} frac {:.2}",
            pdf417::slant(&gray),
            d.angle_deg,
            d.perspective,
            d.blur,
            d.photo_width,
            d.card_frac
        );
    }
    for r in 0..rungs {
        println!(
            "rung {r}: read {} of {n}, mean {:.0} ms",
            wins[r],
            ms[r] / n as f64
        );
    }
    println!("read by no rung: {none}");
    // Greedy order: each next rung is the one reading most of what is still unread.
    let mut unread: Vec<bool> = vec![true; n];
    let mut order = Vec::new();
    let mut left: Vec<usize> = (0..rungs).collect();
    while !left.is_empty() {
        let (k, &best) = left
            .iter()
            .enumerate()
            .max_by_key(|(_, &r)| (0..n).filter(|&i| unread[i] && sets[i][r]).count())
            .unwrap();
        let gain = (0..n).filter(|&i| unread[i] && sets[i][best]).count();
        if gain == 0 {
            break;
        }
        (0..n).for_each(|i| unread[i] &= !sets[i][best]);
        order.push((best, gain));
        left.remove(k);
    }
    println!("greedy order (rung, newly read): {order:?}");
}
