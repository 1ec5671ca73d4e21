//! Name normalisation, alias matching and "did you mean" suggestions shared by both catalogues.

use crate::error::Error;

/// Splits `name` into lower-case alphanumeric tokens after dropping an organisation prefix
/// (everything up to the last `/`).
pub(crate) fn tokens(name: &str) -> Vec<String> {
    let last = name.rsplit('/').next().unwrap_or(name);
    last.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|t| !t.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// The normalised key of a name: lower case, organisation prefix dropped, punctuation and
/// spaces removed (`meta-llama/Llama-3.1-8B` → `llama318b`).
pub(crate) fn key(name: &str) -> String {
    tokens(name).concat()
}

/// The keys to try for `name`, most specific first: the whole name, then the name without the
/// tokens in `noise`, then without tokens matched by `optional`.
pub(crate) fn candidate_keys(
    name: &str,
    noise: &[&str],
    optional: fn(&str) -> bool,
) -> Vec<String> {
    let toks = tokens(name);
    let mut out = vec![toks.concat()];
    let without_noise: Vec<&String> = toks
        .iter()
        .filter(|t| !noise.contains(&t.as_str()))
        .collect();
    let k2: String = without_noise.iter().map(|s| s.as_str()).collect();
    if !out.contains(&k2) {
        out.push(k2);
    }
    let k3: String = without_noise
        .iter()
        .enumerate()
        .filter(|(i, t)| *i == 0 || !optional(t))
        .map(|(_, t)| t.as_str())
        .collect();
    if !out.contains(&k3) {
        out.push(k3);
    }
    out.retain(|k| !k.is_empty());
    out
}

/// Levenshtein distance between two ASCII strings.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a = a.as_bytes();
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Finds the entry whose name or alias matches `name`; on failure an
/// [`Error::UnknownName`] listing up to three nearest canonical names.
pub(crate) fn find<'a, T>(
    kind: &'static str,
    name: &str,
    entries: &'a [T],
    names: impl Fn(&T) -> Vec<&str>,
    noise: &[&str],
    optional: fn(&str) -> bool,
) -> Result<&'a T, Error> {
    let candidates = candidate_keys(name, noise, optional);
    for cand in &candidates {
        if let Some(e) = entries
            .iter()
            .find(|e| names(e).iter().any(|n| key(n) == *cand))
        {
            return Ok(e);
        }
    }
    let query = candidates.first().cloned().unwrap_or_default();
    let mut scored: Vec<(usize, &str)> = entries
        .iter()
        .filter_map(|e| {
            let ns = names(e);
            let canonical = *ns.first()?;
            let best = ns.iter().map(|n| edit_distance(&key(n), &query)).min()?;
            Some((best, canonical))
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    Err(Error::UnknownName {
        kind,
        name: name.to_owned(),
        nearest: scored
            .into_iter()
            .take(3)
            .map(|(_, n)| n.to_owned())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_drops_org_and_punctuation() {
        assert_eq!(key("meta-llama/Llama-3.1-8B"), "llama318b");
        assert_eq!(key("  Qwen2.5 7b "), "qwen257b");
    }

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("h100", "h100"), 0);
    }

    #[test]
    fn candidates_strip_noise_then_optional() {
        let c = candidate_keys("org/Foo-7B-Instruct-80GB", &["instruct"], |t| {
            t.ends_with("gb")
        });
        assert_eq!(c, vec!["foo7binstruct80gb", "foo7b80gb", "foo7b"]);
    }
}
