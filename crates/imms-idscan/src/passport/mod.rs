//! Reading a US passport's data page from a photo: find the two-line TD3 machine readable
//! zone (module `band`), cut each line out and make it regular (module `line`), read it twice
//! — with Tesseract (module `tess`) and by OCR-B glyph templates (module `glyphs`) — and keep
//! only what ICAO 9303's check digits and the readers' agreement vouch for.
//!
//! The data line (line 2) carries check digits: a reading is kept only if every one of them
//! holds ([`crate::parse_td3`] verifies them) and every character of its dates is sure (a
//! check digit alone cannot vouch for a date; see [`data_line`]). The name line has none,
//! so a name is returned only when every character is certain: the template reader sure of
//! it, or, where it is unsure, Tesseract reading one of its two best guesses; a letter the
//! two readers read as two different letters refuses the name. A failed reading is retried
//! with the line binarised instead of grey, and upside down.

mod band;
mod glyphs;
mod line;
mod tess;

use chrono::NaiveDate;
use image::GrayImage;

use crate::{parse_td3, IdDocument, ScanError};
use glyphs::Guess;
use line::{Line, CHARS};

const ALPHA: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ<";
const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<";
const DIGIT: &str = "0123456789";

/// What each position of the name line may hold.
fn line1_allowed() -> [&'static str; CHARS] {
    let mut a = [ALPHA; CHARS];
    // A visa's `V` read as what it is, for the parser to refuse.
    a[0] = "PV";
    a
}

/// What each position of the data line may hold.
fn line2_allowed() -> [&'static str; CHARS] {
    let mut a = [ALNUM; CHARS];
    a[9] = DIGIT;
    for x in &mut a[10..13] {
        *x = ALPHA;
    }
    for x in &mut a[13..20] {
        *x = DIGIT;
    }
    a[20] = "MFX<";
    for x in &mut a[21..28] {
        *x = DIGIT;
    }
    a[42] = "0123456789<";
    a[43] = DIGIT;
    a
}

/// The least glyph fit of a data line ([`glyphs::fit`]) for the zone to be read as an MRZ at
/// all. On 60 generated photos of each, lines of a card's print fit the OCR-B glyphs at
/// 0.29–0.36, a passport's data line at 0.37–0.92 (the few below 0.5 unreadable anyway): a
/// zone below this is not read (no Tesseract time spent on it).
const ZONE_FIT: f32 = 0.40;

/// How much worse than the better orientation's fit the other may be and still be read.
const ORIENTATION_GAP: f32 = 0.12;

/// Second guesses at the grid's bow, in cells, tried on the data line before Tesseract.
const BOWS: [f32; 7] = [0.0, -0.5, 0.5, -1.0, 1.0, -1.5, 1.5];

/// Candidate zones tried before the photo is taken to show none (a second where the first
/// pair of bands found was other print).
const ZONES: usize = 2;

/// Reads the passport in `gray`. `None` when the photo shows no machine readable zone.
pub fn read(gray: &GrayImage, today: NaiveDate) -> Option<Result<IdDocument, ScanError>> {
    let mut search = band::Search::new(gray);
    let (zone, tries) = (0..ZONES)
        .map_while(|_| search.next_zone())
        .find_map(|zone| data_lines(gray, &zone).map(|t| (zone, t)))?;
    let mut last = ScanError::MrzUnreadable;
    for (_, flip, l2) in &tries {
        let first = &zone.lines[usize::from(*flip)];
        let Some(l1) = line::extract(gray, &zone, first, *flip) else {
            continue;
        };
        for binary in [false, true] {
            match read_lines(&l1, l2, binary, today) {
                Ok(doc) => return Some(Ok(doc)),
                Err(e) => {
                    if matches!(e, ScanError::CheckDigit(_)) || last == ScanError::MrzUnreadable {
                        last = e;
                    }
                }
            }
        }
    }
    Some(Err(last))
}

/// Each orientation's data line worth reading in `zone`, with how well it fits the glyphs,
/// the better first; `None` when neither is (the zone is not an MRZ).
fn data_lines(gray: &GrayImage, zone: &band::Zone) -> Option<Vec<(f32, bool, Line)>> {
    // The name line is cut out only for a zone that passes.
    let mut tries: Vec<(f32, bool, Line)> = [false, true]
        .into_iter()
        .filter_map(|flip| {
            let second = &zone.lines[usize::from(!flip)];
            let l2 = line::extract(gray, zone, second, flip)?;
            let fit = glyphs::fit(&l2.regular(0.0), &line2_allowed());
            Some((fit, flip, l2))
        })
        .collect();
    // An orientation whose data line does not fit the glyphs ([`ZONE_FIT`]) is not read.
    tries.retain(|t| t.0 >= ZONE_FIT);
    tries.sort_by(|a, b| b.0.total_cmp(&a.0));
    let best = tries.first()?.0;
    // Nor one fitting clearly worse than the other: on 97 passports read (120 photos, seed
    // 2026), the right way up fit 0.77–0.93 and upside down 0.56–0.67, at least 0.19 less.
    // Reading the worse one only ever lengthened a refusal.
    tries.retain(|t| t.0 >= best - ORIENTATION_GAP);
    Some(tries)
}

/// Both lines by the templates alone (the data line with its grid bowed a little either way
/// if need be), then, for a line they do not settle, with Tesseract's reading as well
/// (Tesseract takes ten times as long as the templates). The name line, which no check
/// digit covers, is read only on the grid whose bow the data line's check digits vouched for.
fn read_lines(
    l1: &Line,
    l2: &Line,
    binary: bool,
    today: NaiveDate,
) -> Result<IdDocument, ScanError> {
    let prep = |l: &Line, bow: f32| {
        let img = l.regular(bow);
        if binary {
            binarise(&img)
        } else {
            img
        }
    };
    let mut found = None;
    for bow in BOWS {
        let g2 = glyphs::read(&prep(l2, bow), &line2_allowed());
        if let Ok(line2) = data_line(&g2, None) {
            found = Some((bow, line2));
            break;
        }
    }
    let (bow, line2) = match found {
        Some(f) => f,
        None => {
            let img2 = prep(l2, 0.0);
            let g2 = glyphs::read(&img2, &line2_allowed());
            let t2 = tess::read_line(&img2).map(|t| align(&g2, &t));
            (0.0, data_line(&g2, t2.as_deref())?)
        }
    };
    let img1 = prep(l1, bow);
    let g1 = glyphs::read(&img1, &line1_allowed());
    let line1 = name_line(&g1, None)
        .or_else(|| {
            let t1 = tess::read_line(&img1).map(|t| align(&g1, &t));
            name_line(&g1, t1.as_deref())
        })
        .ok_or(ScanError::MrzUnreadable)?;
    parse_td3(&line1, &line2, today)
}

/// Tesseract's text laid against the 44 cells (it may drop or add a character, mostly among
/// the fillers): an edit-distance alignment with the template reading; `None` where
/// Tesseract has nothing for a cell.
fn align(g: &[Guess], text: &str) -> Vec<Option<char>> {
    let t: Vec<char> = text.chars().take(3 * CHARS).collect();
    let (n, m) = (g.len(), t.len());
    let cost = |i: usize, j: usize| {
        if g[i].best == t[j] || g[i].second == t[j] {
            0
        } else {
            2
        }
    };
    // d[i][j]: cost of aligning the first i cells with the first j characters.
    let mut d = vec![vec![0u32; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = 3 * i as u32;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = 3 * j as u32;
    }
    for i in 1..=n {
        for j in 1..=m {
            d[i][j] = (d[i - 1][j - 1] + cost(i - 1, j - 1))
                .min(d[i - 1][j] + 3)
                .min(d[i][j - 1] + 3);
        }
    }
    let mut out = vec![None; n];
    let (mut i, mut j) = (n, m);
    while i > 0 && j > 0 {
        if d[i][j] == d[i - 1][j - 1] + cost(i - 1, j - 1) {
            out[i - 1] = Some(t[j - 1]);
            i -= 1;
            j -= 1;
        } else if d[i][j] == d[i - 1][j] + 3 {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    out
}

/// The fields of the data line a check digit covers: (start, end, check digit position).
const CHECKED: [(usize, usize, usize); 4] = [(0, 9, 9), (13, 19, 19), (21, 27, 27), (28, 42, 42)];

/// The data line, assembled field by field: each checked field from whichever reading (the
/// templates', Tesseract's, or the templates' with Tesseract's characters where they were
/// unsure) makes its check digit hold, then the whole-zone check digit over the result. The
/// nationality and sex, which no check digit covers, must be sure (templates sure, or both
/// readers agreeing).
fn data_line(g: &[Guess], t: Option<&[Option<char>]>) -> Result<String, ScanError> {
    let allowed = line2_allowed();
    let templ: Vec<char> = g.iter().map(|g| g.best).collect();
    let mut readings = vec![templ.clone()];
    if let Some(t) = t {
        let fill = |unsure_only: bool| -> Vec<char> {
            g.iter()
                .zip(t)
                .enumerate()
                .map(|(i, (g, c))| match c {
                    Some(c) if allowed[i].contains(*c) && !(unsure_only && g.confident()) => *c,
                    _ => g.best,
                })
                .collect()
        };
        readings.push(fill(false));
        readings.push(fill(true));
    }
    let mut line = templ;
    for i in (10..13).chain([20]) {
        let agreed = t.and_then(|t| t[i]) == Some(g[i].best);
        if !(g[i].confident() || agreed) {
            return Err(ScanError::MrzUnreadable);
        }
    }
    for (what, &(a, b, c)) in [
        "the document number",
        "the date of birth",
        "the expiry date",
        "the personal number",
    ]
    .iter()
    .zip(&CHECKED)
    {
        let holds = |r: &[char]| {
            let field: Vec<u8> = r[a..b].iter().map(|&c| c as u8).collect();
            let check = r[c] as u8;
            let blank = c == 42 && check == b'<' && field.iter().all(|&x| x == b'<');
            blank
                || crate::check_digit(&field)
                    .is_some_and(|d| check == b'0' + d || (check == b'<' && d == 0))
        };
        // The dates are answered, and their check digits cannot vouch for them alone: a
        // digit misread as the digit five away (3 and 8 look alike when blurred) shifts the
        // check digit by five, which the same misreading of the check digit repeats (and two
        // such misreadings cancel in the whole-zone digit). So each character of a date and
        // its check digit must also be sure: the templates sure of it, or Tesseract reading
        // it as one of the four glyphs the templates find likeliest (a blurred digit can
        // leave the right one third or fourth).
        let date = c == 19 || c == 27;
        let sure = |r: &[char]| {
            (a..=c).all(|i| {
                let tess_agrees = t.and_then(|t| t[i]) == Some(r[i]) && g[i].among_likeliest(r[i]);
                g[i].confident() && g[i].best == r[i] || tess_agrees
            })
        };
        if let Some(r) = readings.iter().find(|r| holds(r) && (!date || sure(r))) {
            line[a..=c].copy_from_slice(&r[a..=c]);
            continue;
        }
        // The document and personal numbers mix letters and digits, so O / 0 and the like
        // are often unsure, and two such slips can cancel in a check digit. Neither number is
        // returned (the dates, sex and names are what the scan answers, each checked on its
        // own), so there only the unsure cells' alternatives are tried, the likeliest that
        // makes the check digit hold taken.
        let numbers = c == 9 || c == 42;
        match numbers
            .then(|| likeliest_fix(g, t, a..=c, &holds))
            .flatten()
        {
            Some(fixed) => line[a..=c].copy_from_slice(&fixed[a..=c]),
            None if date && readings.iter().any(|r| holds(r)) => {
                return Err(ScanError::MrzUnreadable)
            }
            None => return Err(ScanError::CheckDigit(what)),
        }
    }
    // The whole-zone digit: any reading's, as long as the assembled line agrees with it.
    for r in &readings {
        line[43] = r[43];
        let text: String = line.iter().collect();
        if crate::mrz::verify_line2(&text).is_ok() {
            return Ok(text);
        }
    }
    Err(ScanError::CheckDigit("the whole zone"))
}

/// The likeliest combination of the unsure cells of `range` (each its template's best or
/// second guess, or Tesseract's character) for which `holds`, with at most six cells in
/// doubt; `None` when none does. Likeliest: the highest sum of the templates' scores.
fn likeliest_fix(
    g: &[Guess],
    t: Option<&[Option<char>]>,
    range: std::ops::RangeInclusive<usize>,
    holds: &dyn Fn(&[char]) -> bool,
) -> Option<Vec<char>> {
    let allowed = line2_allowed();
    let mut base: Vec<char> = g.iter().map(|g| g.best).collect();
    // Per cell in doubt: its options and the templates' score of each.
    let mut doubt: Vec<(usize, Vec<(char, f32)>)> = Vec::new();
    for i in range {
        let mut options = vec![(g[i].best, g[i].score)];
        let mut add = |c: char, score: f32| {
            if allowed[i].contains(c) && options.iter().all(|o| o.0 != c) {
                options.push((c, score));
            }
        };
        if !g[i].confident() {
            add(g[i].second, g[i].second_score);
        }
        // OCR-B's O and 0 differ only in width, which perspective changes.
        match g[i].best {
            'O' => add('0', g[i].second_score),
            '0' => add('O', g[i].second_score),
            _ => {}
        }
        if let Some(c) = t.and_then(|t| t[i]) {
            add(
                c,
                if c == g[i].second {
                    g[i].second_score
                } else {
                    0.0
                },
            );
        }
        if options.len() > 1 {
            doubt.push((i, options));
        }
    }
    if doubt.is_empty() || doubt.len() > 6 {
        return None;
    }
    let mut found: Option<(f32, Vec<char>)> = None;
    let combinations: usize = doubt.iter().map(|d| d.1.len()).product();
    for mut k in 0..combinations {
        let mut score = 0.0;
        for (i, options) in &doubt {
            let (c, s) = options[k % options.len()];
            base[*i] = c;
            score += s;
            k /= options.len();
        }
        if holds(&base) && found.as_ref().is_none_or(|f| score > f.0) {
            found = Some((score, base.clone()));
        }
    }
    found.map(|f| f.1)
}

/// The name line, only if every character is certain (see the module comment).
///
/// The first cell, the document code's `P`, is held to less: it may only be `P` or `V`, a
/// visa's zone (`V`) has no whole-zone check digit and so never gets this far, and it tells
/// nothing about the person; a `P` that the templates prefer clearly to a `V` is taken.
fn name_line(g: &[Guess], t: Option<&[Option<char>]>) -> Option<String> {
    let none = vec![None; CHARS];
    let t = t.unwrap_or(&none);
    g.iter()
        .zip(t)
        .enumerate()
        .map(|(i, (g, &t))| {
            let letter = |c: char| c.is_ascii_uppercase();
            match t {
                _ if i == 0 && g.best == 'P' && g.score - g.second_score >= 0.1 => Some('P'),
                Some(t) if letter(t) && letter(g.best) && t != g.best => None,
                _ if g.confident() => Some(g.best),
                Some(t) if t == g.best || t == g.second => Some(t),
                _ => None,
            }
        })
        .collect()
}

/// Black and white by each pixel's neighbourhood (helps where light falls unevenly).
fn binarise(img: &GrayImage) -> GrayImage {
    let ink = band::ink_mask(img, line::CAP / 2);
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        image::Luma([if ink[(y * img.width() + x) as usize] {
            0
        } else {
            255
        }])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guess(best: char, score: f32, second: char, second_score: f32) -> Guess {
        Guess {
            best,
            score,
            second,
            second_score,
            next: [second; 2],
        }
    }

    fn sure(c: char) -> Guess {
        guess(c, 0.9, if c == '<' { 'K' } else { '<' }, 0.3)
    }

    fn line(text: &str) -> Vec<Guess> {
        text.chars().map(sure).collect()
    }

    const NAME: &str = "P<USAGARCIA<LOPEZ<<ANNE<ONEIL<<<<<<<<<<<<<<<";
    const DATA: &str = "C030059887USA8402297F3107140<<<<<<<<<<<<<<<2";

    #[test]
    fn a_faint_document_code_p_is_taken_only_when_clearly_not_a_v() {
        let mut g = line(NAME);
        assert_eq!(name_line(&g, None).as_deref(), Some(NAME));
        g[0] = guess('P', 0.45, 'V', 0.21);
        assert_eq!(name_line(&g, None).as_deref(), Some(NAME));
        g[0].second_score = 0.40;
        assert_eq!(name_line(&g, None), None);
        // Elsewhere a faint letter is never taken alone.
        let mut g = line(NAME);
        g[6].score = 0.45;
        assert_eq!(name_line(&g, None), None);
    }

    #[test]
    fn unsure_document_numbers_take_the_reading_their_check_digit_vouches_for() {
        assert!(crate::mrz::verify_line2(DATA).is_ok(), "fixture");
        assert_eq!(data_line(&line(DATA), None).as_deref(), Ok(DATA));
        // Two 0s read as Os (slips that cancel in the check digit's weights 3 and 7), each
        // unsure: the likeliest combination that holds is the one the templates preferred.
        let mut g = line(DATA);
        for i in [1, 4] {
            g[i] = guess('O', 0.86, '0', 0.85);
        }
        g[3] = guess('0', 0.90, 'O', 0.87);
        assert_eq!(data_line(&g, None).as_deref(), Ok(DATA));
        // A confident O where the number has a 0 (perspective narrows a 0 to an O).
        let mut g = line(DATA);
        g[1] = sure('O');
        assert_eq!(data_line(&g, None).as_deref(), Ok(DATA));
        // A date of birth is never fixed that way.
        let mut g = line(DATA);
        g[14] = guess('8', 0.80, '9', 0.79);
        assert_eq!(
            data_line(&g, None),
            Err(ScanError::CheckDigit("the date of birth"))
        );
    }

    #[test]
    fn a_date_misread_that_its_check_digits_repeat_is_not_returned() {
        // The expiry 270314, check digit 3: read as 270814 with check digit 8, the field's
        // and the whole zone's check digits all hold.
        const TRUE: &str = "8519258345USA3204120M2703143<<<<<<<<<<<<<<<4";
        const MISREAD: &str = "8519258345USA3204120M2708148<<<<<<<<<<<<<<<4";
        assert!(crate::mrz::verify_line2(TRUE).is_ok(), "fixture");
        assert!(crate::mrz::verify_line2(MISREAD).is_ok(), "fixture");
        let mut g = line(TRUE);
        for i in [24, 27] {
            g[i] = guess('8', 0.60, '3', 0.58);
        }
        assert_eq!(data_line(&g, None), Err(ScanError::MrzUnreadable));
        // Tesseract reading 3 where the templates were unsure settles it.
        let mut t = vec![None; CHARS];
        t[24] = Some('3');
        t[27] = Some('3');
        assert_eq!(data_line(&g, Some(&t)).as_deref(), Ok(TRUE));
        // Blurred, the right digit may be only the templates' third or fourth guess; one
        // they do not rank among their four likeliest is not taken from Tesseract.
        for i in [24, 27] {
            g[i] = guess('8', 0.50, '6', 0.49);
            g[i].next = ['3', '9'];
        }
        assert_eq!(data_line(&g, Some(&t)).as_deref(), Ok(TRUE));
        for i in [24, 27] {
            g[i].next = ['9', '0'];
        }
        assert_eq!(data_line(&g, Some(&t)), Err(ScanError::MrzUnreadable));
    }
}
