//! Every word the record prints, in English and Spanish, and how dates and vaccine groups
//! are written in each.

use chrono::{Datelike, NaiveDate};

use crate::Lang;

/// The record's fixed wording in one language.
pub struct Words {
    pub title: &'static str,
    pub name: &'static str,
    pub birth_date: &'static str,
    pub issued_on: &'static str,
    pub record_id: &'static str,
    pub how_to_read: &'static str,
    pub how_to_read_body: &'static str,
    pub corrections: &'static str,
    pub other_states: &'static str,
    pub guide: &'static str,
    pub qr_caption: &'static str,
    pub qr_alt: &'static str,
    pub qr_part: &'static str,
    pub doses: &'static str,
    pub no_doses: &'static str,
    pub continued: &'static str,
    pub col_vaccine: &'static str,
    pub col_date: &'static str,
    pub col_dose: &'static str,
    pub col_manufacturer: &'static str,
    pub col_lot: &'static str,
    pub col_facility: &'static str,
    pub col_type: &'static str,
    pub given: &'static str,
    pub historical: &'static str,
    pub refusals: &'static str,
    pub refusals_intro: &'static str,
    pub immunity: &'static str,
    pub immunity_intro: &'static str,
    pub col_immunity: &'static str,
    pub page: &'static str,
    pub of: &'static str,
    pub not_reported: &'static str,
    pub other_vaccines: &'static str,
}

pub const EN: Words = Words {
    title: "Official Immunization Record",
    name: "Name",
    birth_date: "Date of birth",
    issued_on: "Date of issue",
    record_id: "Record ID",
    how_to_read: "How to read this record",
    how_to_read_body: "Each table lists the doses of one kind of vaccine, oldest first. \"Date\" is the day the dose was given. \"Dose\" is its number in the series, when the clinic reported it. \"Reported by\" is the clinic or pharmacy that sent the dose to the registry. \"Given\" means that clinic gave the dose; \"History\" means it copied the dose from an older record. A dash (–) means the information was not reported.",
    corrections: "If something is wrong or missing, ask the doctor or clinic that gave the vaccine, or your local health department, to correct it. They send the correction to the registry.",
    other_states: "Doses given in another state or country appear here only when a clinic reported them to this registry.",
    guide: "Guide to reading your record:",
    qr_caption: "SMART Health Card: scan this code with a SMART Health Card app to show a verified copy of this record.",
    qr_alt: "QR code: a SMART Health Card with the vaccines on this record, signed by the issuer",
    qr_part: "part",
    doses: "Vaccines given",
    no_doses: "No vaccine doses have been reported to the registry for this person.",
    continued: "continued",
    col_vaccine: "Vaccine",
    col_date: "Date",
    col_dose: "Dose",
    col_manufacturer: "Manufacturer",
    col_lot: "Lot",
    col_facility: "Reported by",
    col_type: "Type",
    given: "Given",
    historical: "History",
    refusals: "Vaccines declined",
    refusals_intro: "A clinic reported that these vaccines were offered and declined. They are not doses.",
    immunity: "Evidence of immunity",
    immunity_intro: "A clinic reported that the person is already protected against these diseases (for example, they had the disease, or a blood test showed it). They are not doses.",
    col_immunity: "Protected against",
    page: "Page",
    of: "of",
    not_reported: "–",
    other_vaccines: "Other vaccines",
};

pub const ES: Words = Words {
    title: "Registro Oficial de Vacunación",
    name: "Nombre",
    birth_date: "Fecha de nacimiento",
    issued_on: "Fecha de emisión",
    record_id: "Número de registro",
    how_to_read: "Cómo leer este registro",
    how_to_read_body: "Cada tabla muestra las dosis de un tipo de vacuna, de la más antigua a la más reciente. \"Fecha\" es el día en que se puso la dosis. \"Dosis\" es su número en la serie, cuando la clínica lo informó. \"Informada por\" es la clínica o farmacia que envió la dosis al registro. \"Puesta\" quiere decir que esa clínica puso la dosis; \"Historial\" quiere decir que la copió de un registro anterior. Un guion (–) quiere decir que no se informó el dato.",
    corrections: "Si algo está mal o falta, pida al médico o a la clínica que puso la vacuna, o a su departamento de salud local, que lo corrija. Ellos envían la corrección al registro.",
    other_states: "Las dosis puestas en otro estado o país aparecen aquí solo si una clínica las informó a este registro.",
    guide: "Guía para leer su registro:",
    qr_caption: "Tarjeta SMART Health Card: escanee este código con una aplicación SMART Health Card para mostrar una copia verificada de este registro.",
    qr_alt: "Código QR: una tarjeta SMART Health Card con las vacunas de este registro, firmada por el emisor",
    qr_part: "parte",
    doses: "Vacunas puestas",
    no_doses: "No se ha informado al registro ninguna dosis de vacuna para esta persona.",
    continued: "continuación",
    col_vaccine: "Vacuna",
    col_date: "Fecha",
    col_dose: "Dosis",
    col_manufacturer: "Fabricante",
    col_lot: "Lote",
    col_facility: "Informada por",
    col_type: "Tipo",
    given: "Puesta",
    historical: "Historial",
    refusals: "Vacunas rechazadas",
    refusals_intro: "Una clínica informó que se ofrecieron estas vacunas y se rechazaron. No son dosis.",
    immunity: "Prueba de inmunidad",
    immunity_intro: "Una clínica informó que la persona ya está protegida contra estas enfermedades (por ejemplo, tuvo la enfermedad o un análisis de sangre lo mostró). No son dosis.",
    col_immunity: "Protegida contra",
    page: "Página",
    of: "de",
    not_reported: "–",
    other_vaccines: "Otras vacunas",
};

pub fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::En => &EN,
        Lang::Es => &ES,
    }
}

const MONTHS_EN: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const MONTHS_ES: [&str; 12] = [
    "ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic",
];

/// A date with the month as a word, so no reader mistakes day for month: "Mar 5, 2024",
/// "5 mar 2024".
pub fn date(lang: Lang, d: NaiveDate) -> String {
    let m = d.month0() as usize;
    match lang {
        Lang::En => format!("{} {}, {}", MONTHS_EN[m], d.day(), d.year()),
        Lang::Es => format!("{} {} {}", d.day(), MONTHS_ES[m], d.year()),
    }
}

/// The name people recognise for a CDC vaccine group.
pub fn group_label(lang: Lang, group: &str) -> String {
    let (en, es) = match group {
        "DTAP" => (
            "Diphtheria, tetanus, whooping cough (DTaP)",
            "Difteria, tétanos, tos ferina (DTaP)",
        ),
        "TDAP" => (
            "Tetanus, diphtheria, whooping cough (Tdap)",
            "Tétanos, difteria, tos ferina (Tdap)",
        ),
        "Td" => ("Tetanus, diphtheria (Td)", "Tétanos, difteria (Td)"),
        "FLU" => ("Influenza (flu)", "Influenza (gripe)"),
        "H1N1 flu" => ("H1N1 influenza", "Influenza H1N1"),
        "H5N1 flu" | "FLU-Avian-H5" => ("Avian influenza (H5)", "Influenza aviar (H5)"),
        "MMR" => (
            "Measles, mumps, rubella (MMR)",
            "Sarampión, paperas, rubéola (MMR)",
        ),
        "HepA" => ("Hepatitis A", "Hepatitis A"),
        "HepB" => ("Hepatitis B", "Hepatitis B"),
        "HIB" => (
            "Haemophilus influenzae type b (Hib)",
            "Haemophilus influenzae tipo b (Hib)",
        ),
        "HPV" => (
            "Human papillomavirus (HPV)",
            "Virus del papiloma humano (VPH)",
        ),
        "MENING" => ("Meningococcal (MenACWY)", "Meningocócica (MenACWY)"),
        "MeningB" => ("Meningococcal B (MenB)", "Meningocócica B (MenB)"),
        "PneumoPCV" => (
            "Pneumococcal conjugate (PCV)",
            "Neumocócica conjugada (PCV)",
        ),
        "PneumoPPV" => (
            "Pneumococcal polysaccharide (PPSV23)",
            "Neumocócica polisacárida (PPSV23)",
        ),
        "POLIO" => ("Polio", "Polio"),
        "ROTAVIRUS" => ("Rotavirus", "Rotavirus"),
        "VARICELLA" => ("Chickenpox (varicella)", "Varicela"),
        "ZOSTER" => ("Shingles (zoster)", "Herpes zóster (culebrilla)"),
        "COVID-19" => ("COVID-19", "COVID-19"),
        "RSV" => (
            "Respiratory syncytial virus (RSV)",
            "Virus respiratorio sincitial (VRS)",
        ),
        "TYPHOID" => ("Typhoid", "Fiebre tifoidea"),
        "YELLOWFEVER" => ("Yellow fever", "Fiebre amarilla"),
        "RABIES" => ("Rabies", "Rabia"),
        "Japanese encephalitis" => ("Japanese encephalitis", "Encefalitis japonesa"),
        "Tick-borne encephalitis" => (
            "Tick-borne encephalitis",
            "Encefalitis transmitida por garrapatas",
        ),
        "Orthopoxvirus" => ("Mpox and smallpox", "Mpox y viruela"),
        "cholera" => ("Cholera", "Cólera"),
        "DENGUE" => ("Dengue", "Dengue"),
        "Chikungunya" => ("Chikungunya", "Chikungunya"),
        "Lyme disease" => ("Lyme disease", "Enfermedad de Lyme"),
        "ANTHRAX" => ("Anthrax", "Ántrax"),
        "ADENO" => ("Adenovirus", "Adenovirus"),
        "BCG" => ("Tuberculosis (BCG)", "Tuberculosis (BCG)"),
        "Ebola" => ("Ebola", "Ébola"),
        "Plague" => ("Plague", "Peste"),
        "VEE" => (
            "Venezuelan equine encephalitis",
            "Encefalitis equina venezolana",
        ),
        "" => (EN.other_vaccines, ES.other_vaccines),
        other => return other.to_string(),
    };
    match lang {
        Lang::En => en.to_string(),
        Lang::Es => es.to_string(),
    }
}
