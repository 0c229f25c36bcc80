//! MetricFlow's filter templates, read into sluice's filter SQL.
//!
//! MetricFlow writes a metric's `filter:` with Jinja-like calls that name
//! dimensions through entities: `{{ Dimension('order_id__is_food_order') }} = true`,
//! `{{ TimeDimension('metric_time', 'month') }} >= '2024-01-01'`,
//! `{{ Entity('customer') }} is not null`. sluice's filters name the same things
//! as bare identifiers (`order_id__is_food_order`, `metric_time__month`,
//! `customer`), resolved by the query planner, so each call becomes its
//! identifier here. A call sluice cannot resolve (`Metric(...)`, a `date_part`)
//! is an error at the filter, never a condition silently dropped.

use crate::diagnostics::{Diagnostic, Span};

use super::spec::Grain;

/// `text` with every `{{ ... }}` call replaced by the identifier it names.
pub fn from_metricflow(text: &str, span: &Span) -> Result<String, Diagnostic> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(bad(span, text, "a `{{` is not closed by `}}`"));
        };
        out.push_str(&call(after[..close].trim(), span, text)?);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    if out.contains("{%") {
        return Err(bad(
            span,
            text,
            "Jinja statements (`{% ... %}`) are not allowed in a metric filter",
        ));
    }
    Ok(out.trim().to_owned())
}

fn bad(span: &Span, text: &str, why: &str) -> Diagnostic {
    Diagnostic::error(format!("cannot read the filter `{}`: {why}", text.trim()))
        .with_label(span, "this filter")
        .with_help(
            "write conditions on `{{ Dimension('entity__dimension') }}`, \
             `{{ TimeDimension('metric_time', 'day') }}` or `{{ Entity('entity') }}`, \
             or on sluice's bare names (`entity__dimension = 'x'`)",
        )
}

/// One argument of a call: a string, a list of strings, or `key=value`.
#[derive(Debug, PartialEq)]
enum Arg {
    Str(String),
    List(Vec<String>),
}

/// `Dimension('a__b', entity_path=['c']).grain('month')` → `c__a__b__month`.
fn call(inner: &str, span: &Span, text: &str) -> Result<String, Diagnostic> {
    let open = inner
        .find('(')
        .ok_or_else(|| bad(span, text, &format!("`{inner}` is not a call")))?;
    let func = inner[..open].trim();
    let (args, mut rest) = arguments(&inner[open + 1..]).ok_or_else(|| {
        bad(
            span,
            text,
            &format!("cannot read the arguments of `{inner}`"),
        )
    })?;
    let mut positional = Vec::new();
    let mut named = Vec::new();
    for (key, value) in args {
        match key {
            None => positional.push(value),
            Some(k) => named.push((k, value)),
        }
    }
    let string = |a: Option<&Arg>, what: &str| -> Result<Option<String>, Diagnostic> {
        match a {
            None => Ok(None),
            Some(Arg::Str(s)) => Ok(Some(s.clone())),
            Some(Arg::List(_)) => Err(bad(span, text, &format!("{what} must be a string"))),
        }
    };
    let name = string(positional.first(), "the name")?
        .ok_or_else(|| bad(span, text, &format!("`{func}(...)` names nothing")))?;
    if func == "Metric" {
        return Err(bad(
            span,
            text,
            "filters on metrics (`Metric(...)`) are not supported by sluice's semantic layer",
        ));
    }
    let mut grain = None;
    let mut path = Vec::new();
    for (key, value) in &named {
        match (key.as_str(), value) {
            ("entity_path", Arg::List(items)) => path.clone_from(items),
            ("time_granularity_name" | "time_granularity", Arg::Str(g)) => grain = Some(g.clone()),
            ("date_part_name", _) => {
                return Err(bad(
                    span,
                    text,
                    "`date_part_name` is not supported: filter on a grain instead",
                ))
            }
            _ => {
                return Err(bad(
                    span,
                    text,
                    &format!("`{key}=` is not an argument sluice reads in `{func}(...)`"),
                ))
            }
        }
    }
    match func {
        "Dimension" | "Entity" if positional.len() > 1 => {
            return Err(bad(span, text, &format!("`{func}(...)` takes one name")))
        }
        "TimeDimension" => {
            if let Some(g) = string(positional.get(1), "the grain")? {
                grain = Some(g);
            }
        }
        "Dimension" | "Entity" => {}
        other => {
            return Err(bad(
                span,
                text,
                &format!("`{other}` is not one of Dimension, TimeDimension, Entity"),
            ))
        }
    }
    // Chained methods: `.grain('month')`; `.descending(...)` does not change a filter.
    loop {
        rest = rest.trim_start();
        let Some(method) = rest.strip_prefix('.') else {
            break;
        };
        let open = method
            .find('(')
            .ok_or_else(|| bad(span, text, "a method call without `(`"))?;
        let (margs, after) = arguments(&method[open + 1..])
            .ok_or_else(|| bad(span, text, "cannot read a method's arguments"))?;
        match (method[..open].trim(), margs.as_slice()) {
            ("grain", [(None, Arg::Str(g))]) => grain = Some(g.clone()),
            ("descending", _) => {}
            (m, _) => {
                return Err(bad(
                    span,
                    text,
                    &format!("`.{m}(...)` is not supported in a filter"),
                ))
            }
        }
        rest = after;
    }
    if !rest.trim().is_empty() {
        return Err(bad(
            span,
            text,
            &format!("`{}` follows the call", rest.trim()),
        ));
    }
    if let Some(g) = &grain {
        if Grain::parse(g).is_none() {
            return Err(bad(span, text, &format!("`{g}` is not a grain")));
        }
    }
    let mut parts = path;
    parts.push(name);
    parts.extend(grain);
    let ident = parts.join("__");
    if ident.is_empty() || !ident.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(bad(span, text, &format!("`{ident}` is not a name")));
    }
    Ok(ident)
}

/// The arguments up to the closing `)`, and the text after it.
#[allow(clippy::type_complexity)]
fn arguments(s: &str) -> Option<(Vec<(Option<String>, Arg)>, &str)> {
    let mut args = Vec::new();
    let mut rest = s.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix(')') {
            return Some((args, after));
        }
        // `key=` before the value.
        let mut key = None;
        let ident_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if ident_len > 0 && rest[ident_len..].trim_start().starts_with('=') {
            key = Some(rest[..ident_len].to_owned());
            rest = rest[ident_len..].trim_start()[1..].trim_start();
        }
        let (value, after) = if let Some(list) = rest.strip_prefix('[') {
            let end = list.find(']')?;
            let items = list[..end]
                .split(',')
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .map(|i| unquote(i).map(str::to_owned))
                .collect::<Option<Vec<_>>>()?;
            (Arg::List(items), &list[end + 1..])
        } else {
            let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
            let end = rest[1..].find(quote)? + 1;
            (Arg::Str(rest[1..end].to_owned()), &rest[end + 1..])
        };
        args.push((key, value));
        rest = after.trim_start();
        if let Some(after) = rest.strip_prefix(',') {
            rest = after.trim_start();
        } else if !rest.starts_with(')') {
            return None;
        }
    }
}

fn unquote(s: &str) -> Option<&str> {
    let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    s.strip_prefix(q)?.strip_suffix(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::SourceFile;

    fn read(text: &str) -> Result<String, String> {
        let file = SourceFile::new("m.yml", text.to_owned());
        from_metricflow(text, &Span::new(&file, 0, text.len())).map_err(|d| d.message.clone())
    }

    #[test]
    fn templates_become_sluice_names() {
        assert_eq!(
            read("{{ Dimension('order_id__customer_order_number') }} = 1\n").as_deref(),
            Ok("order_id__customer_order_number = 1")
        );
        assert_eq!(
            read("{{TimeDimension('metric_time', 'month')}} >= '2024-01-01'").as_deref(),
            Ok("metric_time__month >= '2024-01-01'")
        );
        assert_eq!(
            read("{{ TimeDimension('ordered_at', time_granularity_name='week') }} is not null")
                .as_deref(),
            Ok("ordered_at__week is not null")
        );
        assert_eq!(
            read("{{ Dimension('region', entity_path=['customer']) }} = 'EU' and {{ Entity('customer') }} > 0")
                .as_deref(),
            Ok("customer__region = 'EU' and customer > 0")
        );
        assert_eq!(
            read("{{ Dimension('order_id__ordered_at').grain('month') }} = '2024-01-01'")
                .as_deref(),
            Ok("order_id__ordered_at__month = '2024-01-01'")
        );
        assert_eq!(read("is_won").as_deref(), Ok("is_won"));
    }

    #[test]
    fn what_sluice_cannot_resolve_is_an_error() {
        for bad in [
            "{{ Metric('revenue', group_by=['customer']) }} > 10",
            "{{ Dimension('a') = 1",
            "{{ TimeDimension('metric_time', 'fortnight') }} > 1",
            "{{ TimeDimension('metric_time', date_part_name='dow') }} = 1",
            "{{ Segment('x') }}",
            "{% if x %}a{% endif %}",
        ] {
            assert!(read(bad).is_err(), "{bad}: {:?}", read(bad));
        }
    }
}
