//! Type inference of one field: the types every non-null value seen so far fits.

use crate::engine::value::{Datetime, FieldType, number_shape};

const INTEGER: u8 = 1;
const NUMBER: u8 = 2;
const BOOLEAN: u8 = 4;
const DATETIME: u8 = 8;
const ALL: u8 = INTEGER | NUMBER | BOOLEAN | DATETIME;

/// What one field's values allow. Starts allowing everything; each value removes the types
/// it does not fit.
#[derive(Debug, Clone, Copy)]
pub struct Guess {
    fits: u8,
    seen: bool,
}

impl Default for Guess {
    fn default() -> Guess {
        Guess {
            fits: ALL,
            seen: false,
        }
    }
}

impl Guess {
    /// A CSV cell's text (not empty: an empty cell is null).
    pub fn text(&mut self, text: &str) {
        self.seen = true;
        if self.fits == 0 {
            return;
        }
        let mut fits = 0;
        if self.fits & (INTEGER | NUMBER) != 0 {
            match number_shape(text) {
                Some(true) if text.parse::<i64>().is_ok() => fits |= INTEGER | NUMBER,
                Some(_) if text.parse::<f64>().is_ok_and(f64::is_finite) => fits |= NUMBER,
                _ => {}
            }
        }
        if self.fits & BOOLEAN != 0
            && (text.eq_ignore_ascii_case("true") || text.eq_ignore_ascii_case("false"))
        {
            fits |= BOOLEAN;
        }
        if self.fits & DATETIME != 0 && Datetime::parse(text).is_some() {
            fits |= DATETIME;
        }
        self.fits &= fits;
    }

    /// A JSON value (not null, not nested). Only JSON numbers are numbers and only JSON
    /// booleans are booleans: a JSON string `"42"` is text. Strings may be datetimes.
    pub fn json(&mut self, value: &serde_json::Value) {
        self.seen = true;
        let fits = match value {
            serde_json::Value::Bool(_) => BOOLEAN,
            serde_json::Value::Number(n) if n.is_i64() => INTEGER | NUMBER,
            serde_json::Value::Number(_) => NUMBER,
            serde_json::Value::String(s)
                if self.fits & DATETIME != 0 && Datetime::parse(s).is_some() =>
            {
                DATETIME
            }
            _ => 0,
        };
        self.fits &= fits;
    }

    pub fn field_type(self) -> FieldType {
        if !self.seen {
            FieldType::String
        } else if self.fits & INTEGER != 0 {
            FieldType::Integer
        } else if self.fits & NUMBER != 0 {
            FieldType::Number
        } else if self.fits & BOOLEAN != 0 {
            FieldType::Boolean
        } else if self.fits & DATETIME != 0 {
            FieldType::Datetime
        } else {
            FieldType::String
        }
    }
}
