//! What flow makers read: labels in words from field names, and descriptions as one line of
//! plain text (the designer shows neither markdown nor line breaks).

/// Labels of the OData query options, as Microsoft's certified connectors word them.
const ODATA_LABELS: [(&str, &str); 7] = [
    ("$top", "Top Count"),
    ("$skip", "Skip Count"),
    ("$filter", "Filter Query"),
    ("$select", "Select Query"),
    ("$orderby", "Order By"),
    ("$expand", "Expand Query"),
    ("$skiptoken", "Skip Token"),
];

/// Words written in capitals wherever they appear in a label.
const ACRONYMS: [(&str, &str); 3] = [("Id", "ID"), ("Url", "URL"), ("Uri", "URI")];

/// The label a flow maker reads for a field: `overrides` first, then the OData query options
/// ("$top" -> "Top Count"), else the name's words ("dataSourceId" -> "Data Source ID").
pub fn label(name: &str, overrides: &[(&str, &str)]) -> String {
    let known = overrides.iter().chain(ODATA_LABELS.iter());
    if let Some((_, label)) = known.into_iter().find(|(field, _)| *field == name) {
        return (*label).to_owned();
    }
    let mut words: Vec<String> = Vec::new();
    let mut start = true;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            // `$`, `@`, `_`, `.`, `-` separate words and never show.
            start = true;
        } else if start || c.is_uppercase() {
            words.push(c.to_uppercase().collect());
            start = false;
        } else if let Some(last) = words.last_mut() {
            last.push(c);
        }
    }
    words
        .into_iter()
        .map(|word| {
            ACRONYMS
                .iter()
                .find(|(plain, _)| *plain == word)
                .map_or(word, |(_, acronym)| (*acronym).to_owned())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A description as one line of plain text: backticks dropped, line breaks and the spaces
/// around them made one space.
pub fn plain(text: &str) -> String {
    text.replace('`', "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_title_case_words_with_acronyms() {
        let cases = [
            ("dataSourceId", "Data Source ID"),
            ("notificationUrl", "Notification URL"),
            ("resourceUri", "Resource URI"),
            ("threshold", "Threshold"),
            ("previousMemberCount", "Previous Member Count"),
            ("$top", "Top Count"),
            ("$skip", "Skip Count"),
            ("$filter", "Filter Query"),
            ("$select", "Select Query"),
            ("$orderby", "Order By"),
            ("$count", "Count"),
            ("@odata.nextLink", "Odata Next Link"),
            ("snake_case_name", "Snake Case Name"),
        ];
        for (name, expected) in cases {
            assert_eq!(label(name, &[]), expected, "{name}");
        }
    }

    #[test]
    fn overrides_come_before_the_odata_labels_and_the_words() {
        let overrides = [("$top", "Page Size"), ("id", "Identifier")];
        assert_eq!(label("$top", &overrides), "Page Size");
        assert_eq!(label("id", &overrides), "Identifier");
        assert_eq!(label("$skip", &overrides), "Skip Count");
    }

    #[test]
    fn plain_text_is_one_line_without_backticks() {
        let cases = [
            (
                "Lists deliveries; failed ones are\nkept so they can be retried.",
                "Lists deliveries; failed ones are kept so they can be retried.",
            ),
            (
                "Only deliveries in this state: `pending`, `delivered` or `failed`.",
                "Only deliveries in this state: pending, delivered or failed.",
            ),
            ("Two lines\r\n\r\n  and a gap.  ", "Two lines and a gap."),
            ("Already plain.", "Already plain."),
        ];
        for (text, expected) in cases {
            assert_eq!(plain(text), expected);
        }
    }
}
