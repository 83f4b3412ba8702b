//! Writes generated passport photos (and small PNG copies) for eyeballing: `cargo run -p imms-idscan --features
//! testgen --example passport_photo -- OUT_DIR [COUNT]`.

use imms_idscan::testgen::{passport, Passport};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&args[1]);
    let n: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    if let Some(mm) = args.get(3).and_then(|s| s.parse::<f32>().ok()) {
        // The flat page alone, at MM pixels per millimetre.
        let mut rng = StdRng::seed_from_u64(0);
        let p = Passport::random(&mut rng);
        let page = passport::data_page(&p, mm, &mut rng);
        page.save(dir.join("page.png")).unwrap();
        return;
    }
    for seed in 0..n {
        let mut rng = StdRng::seed_from_u64(seed);
        let p = Passport::random(&mut rng);
        let d = passport::random_degradation(&mut rng);
        let bytes = passport::photo_of_passport(&p, &d, &mut rng);
        std::fs::write(dir.join(format!("passport-{seed}.jpg")), &bytes).unwrap();
        // A small PNG beside it, to look at.
        let img = image::load_from_memory(&bytes)
            .unwrap()
            .thumbnail(1000, 1000);
        img.save(dir.join(format!("passport-{seed}-small.png")))
            .unwrap();
    }
}
