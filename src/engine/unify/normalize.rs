//! The normalizations a match condition applies to a value before comparing it, in the order
//! the rule gives them. Pure text functions; they only ever make keys, never stored values.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// One normalization step, with its wire name in [`Normalization::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Normalization {
    /// Removes leading and trailing whitespace.
    Trim,
    /// Lowercases every letter (Unicode rules, so `Σ` at the end of a word is `ς`).
    Lowercase,
    /// Letters with diacritics to their base letter (`é` to `e`, `Å` to `A`): the text is
    /// decomposed (Unicode NFD) and the combining marks are dropped. Letters that Unicode
    /// does not compose from a base letter and a mark (`ø`, `ł`, `ß`, `æ`) and other scripts
    /// are kept as they are, so two different names never fold into one transliteration.
    Ascii,
    /// Keeps only the digits 0-9.
    Digits,
    /// Removes all whitespace, inside the text too.
    NoWhitespace,
}

impl Normalization {
    /// Every normalization, in the order the API lists them.
    pub const ALL: [Normalization; 5] = [
        Normalization::Trim,
        Normalization::Lowercase,
        Normalization::Ascii,
        Normalization::Digits,
        Normalization::NoWhitespace,
    ];

    /// The name a rule's `normalize` list uses.
    pub fn name(self) -> &'static str {
        match self {
            Normalization::Trim => "trim",
            Normalization::Lowercase => "lowercase",
            Normalization::Ascii => "ascii",
            Normalization::Digits => "digits",
            Normalization::NoWhitespace => "noWhitespace",
        }
    }

    /// The normalization named `name` (names are case-sensitive, as the API writes them).
    pub fn parse(name: &str) -> Option<Normalization> {
        Normalization::ALL.into_iter().find(|n| n.name() == name)
    }

    /// Appends `text` normalized by this step to `out`.
    fn apply(self, text: &str, out: &mut String) {
        match self {
            Normalization::Trim => out.push_str(text.trim()),
            Normalization::Lowercase if text.is_ascii() => {
                out.push_str(text);
                out.make_ascii_lowercase();
            }
            Normalization::Lowercase => out.push_str(&text.to_lowercase()),
            Normalization::Ascii if text.is_ascii() => out.push_str(text),
            Normalization::Ascii => out.extend(text.nfd().filter(|c| !is_combining_mark(*c))),
            Normalization::Digits => out.extend(text.chars().filter(char::is_ascii_digit)),
            Normalization::NoWhitespace => {
                out.extend(text.chars().filter(|c| !c.is_whitespace()));
            }
        }
    }
}

/// Buffers reused from one value to the next, so that normalizing a million values does not
/// allocate a million strings.
#[derive(Debug, Default)]
pub struct Normalizer {
    out: String,
    scratch: String,
}

impl Normalizer {
    /// `text` after each step of `steps` in order; borrowed from the normalizer until the
    /// next call.
    pub fn normalize(&mut self, text: &str, steps: &[Normalization]) -> &str {
        self.out.clear();
        self.out.push_str(text);
        for step in steps {
            self.scratch.clear();
            step.apply(&self.out, &mut self.scratch);
            std::mem::swap(&mut self.out, &mut self.scratch);
        }
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Normalization::*;

    #[test]
    fn each_normalization_does_what_its_name_says() {
        let table: &[(&str, &[Normalization], &str, &str)] = &[
            (
                "  Ann Lee \t",
                &[Trim],
                "Ann Lee",
                "trim keeps inner spaces",
            ),
            (
                "ÉLODIE O'Neil",
                &[Lowercase],
                "élodie o'neil",
                "lowercase is Unicode",
            ),
            (
                "ΟΔΟΣ",
                &[Lowercase],
                "οδος",
                "a final sigma lowercases as one",
            ),
            (
                "Élodie Ångström",
                &[Ascii],
                "Elodie Angstrom",
                "diacritics go",
            ),
            ("e\u{301}", &[Ascii], "e", "a decomposed accent goes too"),
            (
                "Ŝtrüdel-Çafé",
                &[Ascii],
                "Strudel-Cafe",
                "any Latin diacritic",
            ),
            (
                "Søren Łukasz",
                &[Ascii],
                "Søren Łukasz",
                "stroke letters are letters",
            ),
            ("Москва 北京", &[Ascii], "Москва 北京", "other scripts stay"),
            (
                "Йогурт",
                &[Ascii],
                "Иогурт",
                "a Cyrillic breve is a mark too",
            ),
            (
                "+44 (20) 7946-0958",
                &[Digits],
                "442079460958",
                "digits only",
            ),
            ("٣٤ 12", &[Digits], "12", "only 0-9 are digits"),
            ("a b\u{a0}c\nd", &[NoWhitespace], "abcd", "all whitespace"),
            ("  ", &[Trim], "", "only whitespace trims to empty"),
            ("x", &[], "x", "no steps keeps the text"),
        ];
        let mut normalizer = Normalizer::default();
        for (text, steps, expected, reason) in table {
            assert_eq!(normalizer.normalize(text, steps), *expected, "{reason}");
        }
    }

    #[test]
    fn steps_combine_in_the_order_given() {
        let mut normalizer = Normalizer::default();
        // Lowercasing "İ" gives "i" and a combining dot; ascii after it drops the dot.
        assert_eq!(normalizer.normalize("İ", &[Lowercase, Ascii]), "i");
        assert_eq!(normalizer.normalize("İ", &[Ascii, Lowercase]), "i");
        assert_eq!(normalizer.normalize(" 0 7 ", &[Digits, Trim]), "07");
        assert_eq!(normalizer.normalize(" A B ", &[Trim, Lowercase]), "a b");
        assert_eq!(
            normalizer.normalize(" A B ", &[NoWhitespace, Lowercase]),
            "ab"
        );
    }

    #[test]
    fn names_round_trip() {
        for n in Normalization::ALL {
            assert_eq!(Normalization::parse(n.name()), Some(n));
        }
        assert_eq!(Normalization::parse("Trim"), None);
        assert_eq!(Normalization::parse("nowhitespace"), None);
    }
}
