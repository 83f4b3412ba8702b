//! Read rate and timing over a seeded corpus of degraded card photos.
//!
//! `cargo run --release -p imms-idscan --features testgen --example readrate -- [N] [SEED] [SAVE_DIR]`
//!
//! Each photo is generated in memory from the seed; SAVE_DIR (optional) receives the photos
//! as files with their barcode text beside them (`card-NNNN.jpg`, `card-NNNN.txt`), for
//! `bench/zxing_cpp.py` to read the same images; with `IDSCAN_PREVIEW=1` also small upright
//! PNG previews to look at. `IDSCAN_WIDTH=4000` makes every photo 4000x3000 (12 megapixels).
//! `IDSCAN_DOC=passport` photographs passport data pages instead (`passport-NNNN.jpg`, the
//! two MRZ lines beside it).
//!
//! Besides the wall time of each scan it reports the process's CPU time for it (Linux,
//! `/proc/self/stat`, 10 ms ticks), which other work on a shared machine does not inflate.

use std::time::Instant;

use imms_idscan::testgen::{passport, photo, AamvaCard, Degradation, Passport};
use imms_idscan::{scan, Limits};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2026);
    let save = args.get(3);
    let limits = Limits::default();
    let passports = std::env::var("IDSCAN_DOC").is_ok_and(|d| d == "passport");
    let (mut right, mut wrong, mut unread) = (0, 0, 0);
    let mut times = Vec::new();
    let mut cpu = Vec::new();
    let mut megapixels = Vec::new();
    for i in 0..n {
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(i as u64));
        let mut d;
        let (bytes, text, expected, name) = if passports {
            let p = Passport::random(&mut rng);
            d = passport::random_degradation(&mut rng);
            set_width(&mut d);
            let bytes = passport::photo_of_passport(&p, &d, &mut rng);
            let (l1, l2) = p.lines();
            (bytes, format!("{l1}\n{l2}\n"), p.expected(), "passport")
        } else {
            let card = AamvaCard::random(&mut rng);
            d = Degradation::random(&mut rng);
            set_width(&mut d);
            let symbol = photo::pdf417_symbol(&card.payload());
            let bytes = photo::photo_of_symbol(&symbol, &d, &mut rng);
            (bytes, card.payload(), card.expected(), "card")
        };
        if let Some(dir) = save {
            std::fs::write(format!("{dir}/{name}-{i:04}.jpg"), &bytes).unwrap();
            std::fs::write(format!("{dir}/{name}-{i:04}.txt"), &text).unwrap();
        }
        if let (Some(dir), Ok(_)) = (save, std::env::var("IDSCAN_PREVIEW")) {
            let g = imms_idscan::intake::decode_gray(&bytes, &limits).unwrap();
            let (gw, gh) = (g.width(), g.height());
            let f = 1000.0 / gw.max(gh) as f64;
            let (pw, ph) = ((gw as f64 * f) as u32, (gh as f64 * f) as u32);
            image::imageops::thumbnail(&g, pw, ph)
                .save(format!("{dir}/preview-{i:04}.png"))
                .unwrap();
        }
        let w = d.photo_width as f64;
        megapixels.push(w * w * 0.75 / 1e6);
        let (t, c) = (Instant::now(), cpu_ms());
        let got = scan(&bytes, &limits);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        if let (Some(c0), Some(c1)) = (c, cpu_ms()) {
            cpu.push(c1 - c0);
        }
        match got {
            Ok(doc) if doc == expected => right += 1,
            Ok(doc) => {
                wrong += 1;
                eprintln!("#{i} WRONG {doc:?}\n  expected {expected:?}");
            }
            Err(e) => {
                unread += 1;
                eprintln!("#{i} unread ({e}) {d:?}");
            }
        }
    }
    times.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    let pct = |v: &[f64], q: f64| {
        v.get(((v.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "photos={n} right={right} wrong={wrong} unread={unread} read_rate={:.1}% median_ms={:.0} p95_ms={:.0} max_ms={:.0} cpu_median_ms={:.0} cpu_p95_ms={:.0} cpu_max_ms={:.0} mean_mp={:.1}",
        100.0 * right as f64 / n as f64,
        pct(&times, 0.5),
        pct(&times, 0.95),
        pct(&times, 1.0),
        pct(&cpu, 0.5),
        pct(&cpu, 0.95),
        pct(&cpu, 1.0),
        megapixels.iter().sum::<f64>() / n as f64
    );
}

/// CPU time used by this process so far (user + system), in milliseconds; `None` where
/// `/proc/self/stat` is not there. Assumes the usual 100 ticks a second.
fn cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0)
}

/// `IDSCAN_WIDTH=4000` gives 12-megapixel photos only.
fn set_width(d: &mut Degradation) {
    if let Some(w) = std::env::var("IDSCAN_WIDTH")
        .ok()
        .and_then(|w| w.parse().ok())
    {
        d.photo_width = w;
    }
}
