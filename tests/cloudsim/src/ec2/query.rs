//! EC2 Query API parameters: the form body (`Action=…&VolumeId.1=…`),
//! numbered lists (`VolumeId.1`), structured lists (`Filter.1.Name`,
//! `Filter.1.Value.1`, `TagSpecification.1.Tag.1.Key`), filters and
//! pagination, with AWS's errors for missing or malformed values.

use std::collections::BTreeMap;

use axum::response::Response;

use super::xml::{Ec2Error, Xml};

/// One request's parameters (a flat map of the form fields).
#[derive(Debug, Clone, Default)]
pub struct Params {
    fields: BTreeMap<String, String>,
}

/// A `Filter.N`: a name and its values (any value may match).
#[derive(Debug, Clone)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

/// A `TagSpecification.N`.
#[derive(Debug, Clone)]
pub struct TagSpec {
    pub resource_type: String,
    pub tags: Vec<(String, String)>,
}

impl Params {
    /// Parse a form body; a body that is not a form is a malformed query.
    pub fn parse(body: &[u8]) -> Result<Params, Ec2Error> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|e| {
            Ec2Error::bad(
                "MalformedQueryString",
                format!("The query string is malformed: {e}"),
            )
        })?;
        Ok(Params {
            fields: pairs.into_iter().collect(),
        })
    }

    pub fn from_fields(fields: BTreeMap<String, String>) -> Params {
        Params { fields }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// A required parameter, AWS's `MissingParameter` without it.
    pub fn required(&self, name: &str) -> Result<&str, Ec2Error> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing(name))
    }

    /// A boolean parameter ("true"/"false"), `default` when absent.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, Ec2Error> {
        match self.get(name) {
            None => Ok(default),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(invalid_value(name, v)),
        }
    }

    /// An integer parameter, `None` when absent.
    pub fn int(&self, name: &str) -> Result<Option<i64>, Ec2Error> {
        self.get(name)
            .map(|v| v.parse::<i64>().map_err(|_| invalid_value(name, v)))
            .transpose()
    }

    /// The fields under `prefix.N.` grouped by N (in numeric order), each
    /// with the rest of its name ("" for a plain `prefix.N`).
    pub fn members(&self, prefix: &str) -> Vec<BTreeMap<String, String>> {
        let mut by_index: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
        let dotted = format!("{prefix}.");
        for (key, value) in &self.fields {
            let Some(rest) = key.strip_prefix(&dotted) else {
                continue;
            };
            let (index, sub) = rest.split_once('.').unwrap_or((rest, ""));
            let Ok(index) = index.parse::<u32>() else {
                continue;
            };
            by_index
                .entry(index)
                .or_default()
                .insert(sub.to_string(), value.clone());
        }
        by_index.into_values().collect()
    }

    /// A flat list: the values of `prefix.1`, `prefix.2`, …
    pub fn list(&self, prefix: &str) -> Vec<String> {
        self.members(prefix)
            .into_iter()
            .filter_map(|mut m| m.remove(""))
            .collect()
    }

    /// `Filter.N.Name` / `Filter.N.Value.M`.
    pub fn filters(&self) -> Result<Vec<Filter>, Ec2Error> {
        self.members("Filter")
            .into_iter()
            .map(|member| {
                let fields = Params::from_fields(member);
                let name = fields
                    .get("Name")
                    .filter(|n| !n.is_empty())
                    .ok_or_else(|| missing("Filter.N.Name"))?;
                Ok(Filter {
                    name: name.to_string(),
                    values: fields.list("Value"),
                })
            })
            .collect()
    }

    /// `<prefix>.N.Key` / `<prefix>.N.Value` (a missing value is "").
    pub fn tags(&self, prefix: &str) -> Result<Vec<(String, Option<String>)>, Ec2Error> {
        self.members(prefix)
            .into_iter()
            .map(|member| {
                let key = member
                    .get("Key")
                    .cloned()
                    .ok_or_else(|| missing(&format!("{prefix}.N.Key")))?;
                Ok((key, member.get("Value").cloned()))
            })
            .collect()
    }

    /// `TagSpecification.N.ResourceType` and `TagSpecification.N.Tag.M.*`.
    pub fn tag_specs(&self) -> Result<Vec<TagSpec>, Ec2Error> {
        self.members("TagSpecification")
            .into_iter()
            .map(|member| {
                let fields = Params::from_fields(member);
                let resource_type = fields.required("ResourceType")?.to_string();
                let tags = fields
                    .tags("Tag")?
                    .into_iter()
                    .map(|(k, v)| (k, v.unwrap_or_default()))
                    .collect();
                Ok(TagSpec {
                    resource_type,
                    tags,
                })
            })
            .collect()
    }

    /// Tags for a new resource of `resource_type` from its TagSpecifications:
    /// each spec must name that type.
    pub fn tags_for(&self, resource_type: &str) -> Result<BTreeMap<String, String>, Ec2Error> {
        let mut tags = BTreeMap::new();
        for spec in self.tag_specs()? {
            if spec.resource_type != resource_type {
                return Err(Ec2Error::invalid(format!(
                    "'{}' is not a valid taggable resource type for this operation.",
                    spec.resource_type
                )));
            }
            for (key, value) in spec.tags {
                check_tag(&key, &value)?;
                tags.insert(key, value);
            }
        }
        check_tag_count(tags.len())?;
        Ok(tags)
    }

    /// Every field except the ones that do not change what a call does
    /// (for ClientToken idempotency).
    pub fn fingerprint(&self) -> String {
        self.fields
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "ClientToken" | "DryRun" | "Version"))
            .map(|(k, v)| format!("{k}={v}\n"))
            .collect()
    }
}

/// What a page of results may hold, from `MaxResults`/`NextToken`.
#[derive(Debug, Clone)]
pub struct Page {
    pub max: Option<usize>,
    /// Return items after this key.
    pub after: Option<String>,
}

impl Page {
    /// `MaxResults` within `min..=max`; not combinable with explicit ids
    /// (`ids_given`, named `ids_param` in the error).
    pub fn parse(
        params: &Params,
        min: i64,
        max: i64,
        ids_given: bool,
        ids_param: &str,
    ) -> Result<Page, Ec2Error> {
        let max_results = params.int("MaxResults")?;
        if let Some(n) = max_results {
            if ids_given {
                return Err(Ec2Error::combination(format!(
                    "The parameter {ids_param} cannot be used with the parameter maxResults"
                )));
            }
            if !(min..=max).contains(&n) {
                return Err(Ec2Error::invalid(format!(
                    "Value ( {n} ) for parameter maxResults is invalid. Expecting a value between {min} and {max}."
                )));
            }
        }
        let after = match params.get("NextToken") {
            None | Some("") => None,
            Some(token) => Some(
                hex::decode(token)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or_else(|| {
                        Ec2Error::bad("InvalidNextToken", "The specified NextToken is not valid.")
                    })?,
            ),
        };
        Ok(Page {
            max: max_results.map(|n| n as usize),
            after,
        })
    }

    /// Cut `items` (sorted by `key`) to this page; the next token, if more remain.
    pub fn apply<T>(&self, items: Vec<T>, key: impl Fn(&T) -> String) -> (Vec<T>, Option<String>) {
        let mut items: Vec<T> = match &self.after {
            Some(after) => items
                .into_iter()
                .filter(|i| key(i).as_str() > after.as_str())
                .collect(),
            None => items,
        };
        match self.max {
            Some(max) if items.len() > max => {
                items.truncate(max);
                let next = items.last().map(|i| hex::encode(key(i)));
                (items, next)
            }
            _ => (items, None),
        }
    }

    /// The `action` response for this page of `matching` (sorted by `key`):
    /// the items under `set`, then `nextToken` when more remain.
    pub fn respond<T>(
        &self,
        action: &str,
        set: &str,
        matching: Vec<T>,
        key: impl Fn(&T) -> String,
        write: impl FnMut(&mut Xml, T),
    ) -> Response {
        let (items, next) = self.apply(matching, key);
        let mut x = Xml::response(action);
        x.list(set, items, write);
        x.opt("nextToken", next);
        x.finish()
    }
}

/// True if a Describe call returns the resource `id`: named in `ids` (or
/// none named) and matched by every filter.
pub fn selected(
    ids: &[String],
    id: &str,
    filters: &[Filter],
    tags: &BTreeMap<String, String>,
    values_of: impl Fn(&str) -> Option<Vec<String>>,
) -> Result<bool, Ec2Error> {
    if !ids.is_empty() && !ids.iter().any(|i| i == id) {
        return Ok(false);
    }
    all_match(filters, tags, values_of)
}

/// True if `filter` matches a resource, given the resource's values for
/// that filter name (`None`: unknown filter name) and its tags.
pub fn filter_matches(
    filter: &Filter,
    tags: &BTreeMap<String, String>,
    values_of: impl Fn(&str) -> Option<Vec<String>>,
) -> Result<bool, Ec2Error> {
    let candidates: Vec<String> = if let Some(key) = filter.name.strip_prefix("tag:") {
        tags.get(key).cloned().into_iter().collect()
    } else if filter.name == "tag-key" {
        tags.keys().cloned().collect()
    } else if filter.name == "tag-value" {
        tags.values().cloned().collect()
    } else {
        values_of(&filter.name)
            .ok_or_else(|| Ec2Error::invalid(format!("The filter '{}' is invalid", filter.name)))?
    };
    Ok(filter
        .values
        .iter()
        .any(|pattern| candidates.iter().any(|c| glob(pattern, c))))
}

/// All filters match.
pub fn all_match(
    filters: &[Filter],
    tags: &BTreeMap<String, String>,
    values_of: impl Fn(&str) -> Option<Vec<String>>,
) -> Result<bool, Ec2Error> {
    for filter in filters {
        if !filter_matches(filter, tags, &values_of)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// EC2 filter values: `*` any run, `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

/// AWS's tag rules: key 1–128 characters, value up to 256, no `aws:` prefix.
pub fn check_tag(key: &str, value: &str) -> Result<(), Ec2Error> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err(Ec2Error::invalid(format!(
            "Tag key must be 1 to 128 characters long: '{key}'"
        )));
    }
    if value.chars().count() > 256 {
        return Err(Ec2Error::invalid(format!(
            "Tag value for key '{key}' exceeds 256 characters"
        )));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err(Ec2Error::invalid(
            "Tag keys starting with 'aws:' are reserved for internal use",
        ));
    }
    Ok(())
}

/// At most 50 tags per resource.
pub fn check_tag_count(count: usize) -> Result<(), Ec2Error> {
    if count > 50 {
        return Err(Ec2Error::bad(
            "TagLimitExceeded",
            "The maximum number of tags (50) per resource has been exceeded",
        ));
    }
    Ok(())
}

pub fn missing(name: &str) -> Ec2Error {
    Ec2Error::bad(
        "MissingParameter",
        format!("The request must contain the parameter {name}"),
    )
}

pub fn invalid_value(name: &str, value: &str) -> Ec2Error {
    Ec2Error::invalid(format!("Value ({value}) for parameter {name} is invalid."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_lists_and_filters() {
        let params = Params::parse(
            b"Action=DescribeVolumes&VolumeId.2=vol-b&VolumeId.1=vol-a&VolumeId.10=vol-j\
              &Filter.1.Name=tag%3Aowner&Filter.1.Value.1=ballast&Filter.1.Value.2=other\
              &TagSpecification.1.ResourceType=volume&TagSpecification.1.Tag.1.Key=k&TagSpecification.1.Tag.1.Value=v",
        )
        .unwrap();
        assert_eq!(params.list("VolumeId"), ["vol-a", "vol-b", "vol-j"]);
        let filters = params.filters().unwrap();
        assert_eq!(filters[0].name, "tag:owner");
        assert_eq!(filters[0].values, ["ballast", "other"]);
        assert_eq!(
            params
                .tags_for("volume")
                .unwrap()
                .get("k")
                .map(String::as_str),
            Some("v")
        );
        assert_eq!(
            params.tags_for("snapshot").unwrap_err().code,
            "InvalidParameterValue"
        );
    }

    #[test]
    fn globs() {
        assert!(glob("vol-*", "vol-123"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*", ""));
        assert!(!glob("x", "y"));
    }

    #[test]
    fn pages() {
        let page = Page {
            max: Some(2),
            after: None,
        };
        let (items, next) = page.apply(vec!["a", "b", "c"], |s| s.to_string());
        assert_eq!(items, ["a", "b"]);
        let after = String::from_utf8(hex::decode(next.unwrap()).unwrap()).unwrap();
        let (items, next) = Page {
            max: Some(2),
            after: Some(after),
        }
        .apply(vec!["a", "b", "c"], |s| s.to_string());
        assert_eq!((items, next), (vec!["c"], None));
    }
}
