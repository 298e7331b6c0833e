//! The Prometheus text format (0.0.4), read strictly, as a scraper reads `/metrics`.

use std::collections::BTreeMap;

/// One sample of a scrape: its name and labels.
pub type Series = (String, BTreeMap<String, String>);

/// A scrape in the Prometheus text format (0.0.4), strictly: each line a `# HELP`,
/// `# TYPE` or a sample `name{label="value",…} number`. Panics on anything else.
pub fn parse(text: &str) -> BTreeMap<Series, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            let kind = comment.split(' ').next().unwrap();
            assert!(kind == "HELP" || kind == "TYPE", "comment line {line:?}");
            if kind == "TYPE" {
                let of = comment.split(' ').nth(2).unwrap();
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&of),
                    "{line:?}"
                );
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("no value in {line:?}"));
        let name = &line[..name_end];
        assert!(
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "metric name {name:?}"
        );
        let mut rest = &line[name_end..];
        let mut labels = BTreeMap::new();
        if let Some(inner) = rest.strip_prefix('{') {
            let mut chars = inner.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '}' {
                    end = Some(i);
                    break;
                }
                if c == ',' {
                    continue;
                }
                let eq = inner[i..].find('=').map(|e| i + e).expect("label=value");
                let key = &inner[i..eq];
                assert!(
                    key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "label {key:?}"
                );
                assert_eq!(&inner[eq + 1..eq + 2], "\"", "{line:?}");
                while chars.peek().is_some_and(|(j, _)| *j <= eq + 1) {
                    chars.next();
                }
                let mut value = String::new();
                loop {
                    match chars.next().expect("a closed label value") {
                        (_, '"') => break,
                        (_, '\\') => match chars.next().unwrap().1 {
                            'n' => value.push('\n'),
                            other => value.push(other),
                        },
                        (_, c) => value.push(c),
                    }
                }
                labels.insert(key.to_owned(), value);
            }
            rest = &inner[end.expect("labels closed") + 1..];
        }
        let value = rest.trim();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            number => number.parse().unwrap_or_else(|_| panic!("value of {line:?}")),
        };
        samples.insert((name.to_owned(), labels), value);
    }
    samples
}

pub fn series(name: &str, labels: &[(&str, &str)]) -> Series {
    (
        name.to_owned(),
        labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
    )
}
