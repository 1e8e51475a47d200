//! Query-string pieces in crnk's grammar and the split of id batches into URLs of
//! bounded length.

use serde_json::{Value, json};
use url::{Url, form_urlencoded};

use super::names::{self, filter_op, person};

/// A query parameter: name and unencoded value.
pub type Param = (String, String);

/// Builds `filter[<path>]`, the any-of filter when its value is a comma-separated list.
pub fn filter_name(path: &str) -> String {
    format!("filter[{path}]")
}

/// Escapes the LIKE wildcards `%` and `_`, and the escape character `\`, in user text.
// NOTE: crnk hands LIKE patterns to the data store; backslash is the usual SQL escape
// character, but Casebook's escape rule is unpublished. The simulator follows this one.
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Builds the JSON `filter` value of a people search: first name, last name or e-mail
/// contains `query`.
///
/// LIKE is case-sensitive upstream, so `ada` does not match `Ada`.
pub fn people_search_filter(query: &str) -> String {
    let pattern = format!("%{}%", escape_like(query));
    let condition =
        |attribute: &str| -> Value { json!({ attribute: { (filter_op::LIKE): pattern.clone() } }) };
    json!({
        "OR": [
            condition(person::FIRST_NAME),
            condition(person::LAST_NAME),
            condition(person::EMAIL),
        ]
    })
    .to_string()
}

/// Returns the people sort order: last name, first name, then id for a stable order.
pub fn people_sort() -> String {
    format!("{},{},id", person::LAST_NAME, person::FIRST_NAME)
}

/// Builds `page[offset]` and `page[limit]`.
pub fn page_params(offset: u64, limit: u32) -> [Param; 2] {
    [
        (names::PAGE_OFFSET.to_string(), offset.to_string()),
        (names::PAGE_LIMIT.to_string(), limit.to_string()),
    ]
}

/// Appends `params` to `url` as a form-encoded query.
pub fn with_query(mut url: Url, params: &[Param]) -> Url {
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params);
    }
    url
}

/// Splits `ids` into groups of at most `max_ids` whose request URL stays within
/// `max_url_length`.
///
/// `url_for` builds the request URL for a comma-joined id list. It is called once with
/// an empty list to measure the fixed part, so that URL must already carry the longest
/// page parameters the request will use. Returns the groups and the ids that do not fit
/// even alone.
pub fn chunk_ids<'a>(
    ids: &[&'a str],
    max_url_length: usize,
    max_ids: usize,
    url_for: impl Fn(&str) -> Url,
) -> (Vec<Vec<&'a str>>, Vec<&'a str>) {
    let max_ids = max_ids.max(1);
    // An encoded comma is `%2C`.
    const SEPARATOR_LENGTH: usize = 3;
    let fixed_length = url_for("").as_str().len();

    let mut groups = Vec::new();
    let mut too_long = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut current_length = fixed_length;

    for &id in ids {
        let id_length = encoded_length(id);
        if fixed_length + id_length > max_url_length {
            too_long.push(id);
            continue;
        }
        let added = if current.is_empty() {
            id_length
        } else {
            SEPARATOR_LENGTH + id_length
        };
        if current_length + added > max_url_length || current.len() >= max_ids {
            groups.push(std::mem::take(&mut current));
            current_length = fixed_length;
            current.push(id);
            current_length += id_length;
        } else {
            current.push(id);
            current_length += added;
        }
    }
    if !current.is_empty() {
        groups.push(current);
    }
    (groups, too_long)
}

/// Length of `text` once form-urlencoded in a query value.
fn encoded_length(text: &str) -> usize {
    form_urlencoded::byte_serialize(text.as_bytes())
        .map(str::len)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_escaped() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(escape_like("Ada"), "Ada");
    }

    #[test]
    fn people_filter_shape() {
        let filter: Value = serde_json::from_str(&people_search_filter("a%b")).unwrap();
        assert_eq!(
            filter,
            json!({"OR": [
                {"first_name": {"LIKE": "%a\\%b%"}},
                {"last_name": {"LIKE": "%a\\%b%"}},
                {"email": {"LIKE": "%a\\%b%"}}
            ]})
        );
    }

    #[test]
    fn chunks_respect_max_length() {
        let base = Url::parse("http://127.0.0.1:9/people/people").unwrap();
        let url_for = |ids: &str| {
            with_query(
                base.clone(),
                &[
                    (filter_name("id"), ids.to_string()),
                    ("page[offset]".into(), "0".into()),
                ],
            )
        };
        let ids: Vec<String> = (0..50)
            .map(|index| format!("id-{index:04}-with space"))
            .collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let max = 200;

        let (groups, too_long) = chunk_ids(&refs, max, usize::MAX, url_for);
        assert!(too_long.is_empty());
        assert!(groups.len() > 1);
        let flattened: Vec<&str> = groups.iter().flatten().copied().collect();
        assert_eq!(flattened, refs);
        for group in &groups {
            let url = url_for(&group.join(","));
            assert!(url.as_str().len() <= max, "{} > {max}", url.as_str().len());
        }
    }

    #[test]
    fn oversized_id_reported() {
        let base = Url::parse("http://127.0.0.1:9/p").unwrap();
        let url_for = |ids: &str| with_query(base.clone(), &[(filter_name("id"), ids.to_string())]);
        let long = "x".repeat(300);
        let (groups, too_long) = chunk_ids(&["a", &long, "b"], 100, usize::MAX, url_for);
        assert_eq!(groups, vec![vec!["a", "b"]]);
        assert_eq!(too_long, vec![long.as_str()]);
    }
}
