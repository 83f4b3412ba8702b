//! Writes a generated photo of one person's ID, for the browser tests and demos:
//! `cargo run -p imms-idscan --features testgen --example id_photo -- KIND FAMILY GIVEN
//! BIRTH EXPIRY OUT [STREET CITY STATE ZIP]`, with KIND `license` or `passport`, dates as
//! YYYY-MM-DD. The photo is clean (flat, in focus): the degraded corpus is the benchmark's.

use chrono::NaiveDate;
use imms_idscan::testgen::aamva::AamvaCard;
use imms_idscan::testgen::people::Person;
use imms_idscan::testgen::photo::{pdf417_symbol, photo_of_symbol, Degradation};
use imms_idscan::testgen::{passport, Passport};
use imms_idscan::{DocumentKind, Sex};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 6 {
        eprintln!("usage: id_photo license|passport FAMILY GIVEN BIRTH EXPIRY OUT [STREET CITY STATE ZIP]");
        std::process::exit(2);
    }
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a YYYY-MM-DD date");
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.into());
    let person = Person {
        family: args[1].to_uppercase(),
        first: args[2].to_uppercase(),
        middle: None,
        suffix: None,
        birth: date(&args[3]),
        expiry: date(&args[4]),
        sex: Sex::Female,
        street: arg(6, "77 JUNIPER WAY").to_uppercase(),
        city: arg(7, "HOLLAND").to_uppercase(),
        zip: arg(9, "49423"),
    };
    let mut rng = StdRng::seed_from_u64(1);
    let bytes = match args[0].as_str() {
        "license" => {
            let state: &'static str = Box::leak(arg(8, "MI").to_uppercase().into_boxed_str());
            let card = AamvaCard {
                person,
                version: 9,
                state,
                // Michigan's issuer number; the portal accepts any US jurisdiction.
                iin: "636032",
                canadian: false,
                kind: DocumentKind::DriverLicense,
                v01_full_name: false,
            };
            photo_of_symbol(
                &pdf417_symbol(&card.payload()),
                &Degradation::clean(1400),
                &mut rng,
            )
        }
        "passport" => {
            let p = Passport {
                person,
                number: "561234587".into(),
                issuer: "USA",
            };
            let d = Degradation::clean(2000);
            passport::photo_of_passport(&p, &d, &mut rng)
        }
        other => {
            eprintln!("unknown kind {other}: license or passport");
            std::process::exit(2);
        }
    };
    std::fs::write(&args[5], bytes).expect("writing the photo");
}
