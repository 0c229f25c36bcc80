//! dbt's own version-specifier rules (`dbt_common.semver`), ported as they are:
//! a requirement is a list of specifiers (`>=1.0.0`, `<2.0.0`, `1.2.3`), reduced to
//! one range by intersection, and the highest installable version in that range
//! wins. dbt's comparison has quirks (a `<` bound excludes pre-releases of the bound's
//! base version; build metadata is ignored), so the `semver` crate, which follows
//! Cargo's rules, would pick different versions than `dbt deps`.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matcher {
    Gt,
    Ge,
    Lt,
    Le,
    Exact,
}

impl Matcher {
    fn as_str(self) -> &'static str {
        match self {
            Matcher::Gt => ">",
            Matcher::Ge => ">=",
            Matcher::Lt => "<",
            Matcher::Le => "<=",
            Matcher::Exact => "=",
        }
    }
}

/// A version specifier, or dbt's `UnboundedVersionSpecifier` (no bound).
#[derive(Clone, Debug)]
pub enum Spec {
    Unbounded,
    Version(Version),
}

#[derive(Clone, Debug)]
pub struct Version {
    pub matcher: Matcher,
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub prerelease: Option<String>,
    pub build: Option<String>,
}

static VERSION_RE: LazyLock<Regex> = LazyLock::new(|| {
    let alnz = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)";
    let alpha = r"[0-9A-Za-z-]*";
    let pattern = format!(
        r"^(?P<matcher>>=|>|<|<=|=)?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)(?:-?(?P<prerelease>{alnz}(?:\.{alnz})*))?(?:\+(?P<build>{alpha}(?:\.{alpha})*))?$"
    );
    // The pattern is a constant: it compiles.
    Regex::new(&pattern).expect("valid version regex")
});

impl Spec {
    /// `VersionSpecifier.from_version_string`: `None` when it is not a version.
    pub fn parse(text: &str) -> Option<Spec> {
        let c = VERSION_RE.captures(text)?;
        let num = |k: &str| c.name(k).and_then(|m| m.as_str().parse::<u64>().ok());
        let matcher = match c.name("matcher").map(|m| m.as_str()) {
            Some(">") => Matcher::Gt,
            Some(">=") => Matcher::Ge,
            Some("<") => Matcher::Lt,
            Some("<=") => Matcher::Le,
            _ => Matcher::Exact,
        };
        let opt = |k: &str| {
            c.name(k)
                .map(|m| m.as_str().to_owned())
                .filter(|s| !s.is_empty())
        };
        Some(Spec::Version(Version {
            matcher,
            major: num("major")?,
            minor: num("minor")?,
            patch: num("patch")?,
            prerelease: opt("prerelease"),
            build: opt("build"),
        }))
    }

    fn version(&self) -> Option<&Version> {
        match self {
            Spec::Unbounded => None,
            Spec::Version(v) => Some(v),
        }
    }

    fn matcher(&self) -> Option<Matcher> {
        self.version().map(|v| v.matcher)
    }

    pub fn is_unbounded(&self) -> bool {
        matches!(self, Spec::Unbounded)
    }
    fn is_lower_bound(&self) -> bool {
        matches!(self.matcher(), Some(Matcher::Gt | Matcher::Ge))
    }
    fn is_upper_bound(&self) -> bool {
        matches!(self.matcher(), Some(Matcher::Lt | Matcher::Le))
    }
    fn is_exact(&self) -> bool {
        self.matcher() == Some(Matcher::Exact)
    }

    pub fn has_prerelease(&self) -> bool {
        self.version().is_some_and(|v| v.prerelease.is_some())
    }

    /// `to_version_string`, with or without the matcher.
    pub fn to_version_string(&self, skip_matcher: bool) -> String {
        let Some(v) = self.version() else {
            return "*".to_owned();
        };
        let mut s = String::new();
        if !skip_matcher {
            s.push_str(v.matcher.as_str());
        }
        s.push_str(&format!("{}.{}.{}", v.major, v.minor, v.patch));
        if let Some(p) = &v.prerelease {
            s.push('-');
            s.push_str(p);
        }
        if let Some(b) = &v.build {
            s.push('+');
            s.push_str(b);
        }
        s
    }

    fn to_range(&self) -> Range {
        let mut r = Range {
            start: Spec::Unbounded,
            end: Spec::Unbounded,
        };
        match self.matcher() {
            Some(Matcher::Exact) => {
                r.start = self.clone();
                r.end = self.clone();
            }
            Some(Matcher::Gt | Matcher::Ge) => r.start = self.clone(),
            Some(Matcher::Lt | Matcher::Le) => r.end = self.clone(),
            None => {}
        }
        r
    }

    /// `VersionSpecifier.compare`: -1, 0 or 1.
    pub fn compare(&self, other: &Spec) -> i32 {
        let (Some(a), Some(b)) = (self.version(), other.version()) else {
            return 0;
        };
        for (x, y) in [(a.major, b.major), (a.minor, b.minor), (a.patch, b.patch)] {
            match x.cmp(&y) {
                Ordering::Greater => return 1,
                Ordering::Less => return -1,
                Ordering::Equal => {}
            }
        }
        match (&a.prerelease, &b.prerelease) {
            (None, None) => {}
            (None, Some(_)) => {
                // A stable `<` bound excludes pre-releases of its own base version.
                return if a.matcher == Matcher::Lt { -1 } else { 1 };
            }
            (Some(_), None) => return -1,
            (Some(pa), Some(pb)) => {
                let c = nat_cmp(pa, pb);
                if c != 0 {
                    return c;
                }
            }
        }
        let (ma, mb) = (a.matcher, b.matcher);
        let equal =
            (ma == Matcher::Ge && mb == Matcher::Le) || (ma == Matcher::Le && mb == Matcher::Ge);
        if equal {
            return 0;
        }
        let lt = (ma == Matcher::Lt && mb == Matcher::Le)
            || (mb == Matcher::Gt && ma == Matcher::Ge)
            || (self.is_upper_bound() && other.is_lower_bound());
        if lt {
            return -1;
        }
        let gt = (mb == Matcher::Lt && ma == Matcher::Le)
            || (ma == Matcher::Gt && mb == Matcher::Ge)
            || (self.is_lower_bound() && other.is_upper_bound());
        if gt {
            return 1;
        }
        0
    }
}

/// `_nat_cmp`: dot-separated parts, numbers below words, then by length.
fn nat_cmp(a: &str, b: &str) -> i32 {
    enum Part<'a> {
        Num(u128),
        Word(&'a str),
    }
    fn parts(s: &str) -> Vec<Part<'_>> {
        s.split('.')
            .map(|x| match x.parse::<u128>() {
                Ok(n) if x.bytes().all(|c| c.is_ascii_digit()) => Part::Num(n),
                _ => Part::Word(x),
            })
            .collect()
    }
    fn sign(o: Ordering) -> i32 {
        match o {
            Ordering::Less => -1,
            Ordering::Equal => 0,
            Ordering::Greater => 1,
        }
    }
    for (x, y) in parts(a).iter().zip(parts(b).iter()) {
        let c = match (x, y) {
            (Part::Num(x), Part::Num(y)) => sign(x.cmp(y)),
            (Part::Num(_), Part::Word(_)) => -1,
            (Part::Word(_), Part::Num(_)) => 1,
            (Part::Word(x), Part::Word(y)) => sign(x.cmp(y)),
        };
        if c != 0 {
            return c;
        }
    }
    // As dbt: the lengths of the whole strings, not the part counts.
    sign(a.len().cmp(&b.len()))
}

/// `VersionRange`: an intersection of a lower and an upper bound.
#[derive(Clone, Debug)]
pub struct Range {
    pub start: Spec,
    pub end: Spec,
}

/// The specifiers cannot all hold at once.
#[derive(Debug)]
pub struct Incompatible;

impl Range {
    fn combine_exact(a: &Spec, b: &Spec) -> Result<Spec, Incompatible> {
        if a.compare(b) == 0 {
            Ok(a.clone())
        } else {
            Err(Incompatible)
        }
    }

    fn lower_with_exact(lower: &Spec, exact: &Spec) -> Result<Spec, Incompatible> {
        let c = lower.compare(exact);
        if c < 0 || (c == 0 && lower.matcher() == Some(Matcher::Ge)) {
            Ok(exact.clone())
        } else {
            Err(Incompatible)
        }
    }

    fn combine_lower(a: &Spec, b: &Spec) -> Result<Spec, Incompatible> {
        if b.is_unbounded() {
            return Ok(a.clone());
        }
        if a.is_unbounded() {
            return Ok(b.clone());
        }
        if !(a.is_exact() || b.is_exact()) {
            Ok(if a.compare(b) < 0 {
                b.clone()
            } else {
                a.clone()
            })
        } else if a.is_exact() {
            Range::lower_with_exact(b, a)
        } else {
            Range::lower_with_exact(a, b)
        }
    }

    fn upper_with_exact(upper: &Spec, exact: &Spec) -> Result<Spec, Incompatible> {
        let c = upper.compare(exact);
        if c > 0 || (c == 0 && upper.matcher() == Some(Matcher::Le)) {
            Ok(exact.clone())
        } else {
            Err(Incompatible)
        }
    }

    fn combine_upper(a: &Spec, b: &Spec) -> Result<Spec, Incompatible> {
        if b.is_unbounded() {
            return Ok(a.clone());
        }
        if a.is_unbounded() {
            return Ok(b.clone());
        }
        if !(a.is_exact() || b.is_exact()) {
            Ok(if a.compare(b) > 0 {
                b.clone()
            } else {
                a.clone()
            })
        } else if a.is_exact() {
            Range::upper_with_exact(b, a)
        } else {
            Range::upper_with_exact(a, b)
        }
    }

    fn reduce(&self, other: &Range) -> Result<Range, Incompatible> {
        let (start, end) = if self.start.is_exact() && other.start.is_exact() {
            let s = Range::combine_exact(&self.start, &other.start)?;
            (s.clone(), s)
        } else {
            (
                Range::combine_lower(&self.start, &other.start)?,
                Range::combine_upper(&self.end, &other.end)?,
            )
        };
        if start.compare(&end) > 0 {
            return Err(Incompatible);
        }
        Ok(Range { start, end })
    }

    /// As dbt prints a range: `>=1.0.0, <2.0.0`, or `ANY`.
    pub fn describe(&self) -> String {
        if self.start.is_unbounded() && self.end.is_unbounded() {
            return "ANY".to_owned();
        }
        [&self.start, &self.end]
            .iter()
            .filter(|s| !s.is_unbounded())
            .map(|s| s.to_version_string(false))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `reduce_versions`: the intersection of the specifiers, in dbt's order (the
/// last one first, then the others).
pub fn reduce(specs: &[Spec]) -> Result<Range, Incompatible> {
    let mut specs: Vec<&Spec> = specs.iter().filter(|s| !s.is_unbounded()).collect();
    let Some(last) = specs.pop() else {
        return Ok(Range {
            start: Spec::Unbounded,
            end: Spec::Unbounded,
        });
    };
    let mut range = last.to_range();
    for s in specs {
        range = range.reduce(&s.to_range())?;
    }
    Ok(range)
}

/// `versions_compatible`.
pub fn compatible(specs: &[Spec]) -> bool {
    specs.len() <= 1 || reduce(specs).is_ok()
}

/// `filter_installable`: the parseable versions, pre-releases only when asked,
/// sorted lowest first (dbt's comparison, stable).
pub fn filter_installable(versions: &[String], prerelease: bool) -> Vec<String> {
    let mut parsed: Vec<(Spec, &String)> = versions
        .iter()
        .filter_map(|v| Spec::parse(v).map(|s| (s, v)))
        .filter(|(s, _)| prerelease || !s.has_prerelease())
        .collect();
    parsed.sort_by(|a, b| a.0.compare(&b.0).cmp(&0));
    // dbt maps each sorted version back through its printed form, so two
    // strings printing the same (build metadata aside) keep the last one.
    let mut by_text = std::collections::HashMap::new();
    for (s, v) in &parsed {
        by_text.insert(s.to_version_string(false), (*v).clone());
    }
    parsed
        .iter()
        .map(|(s, _)| by_text[&s.to_version_string(false)].clone())
        .collect()
}

/// `resolve_to_specific_version`: the highest available version in the range.
pub fn resolve(range: &Range, available: &[String]) -> Option<String> {
    let mut best: Option<(Spec, &String)> = None;
    for v in available {
        let Some(spec) = Spec::parse(v) else { continue };
        let fits = compatible(&[spec.clone(), range.start.clone(), range.end.clone()]);
        if fits && best.as_ref().is_none_or(|(b, _)| b.compare(&spec) < 0) {
            best = Some((spec, v));
        }
    }
    best.map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(v: &[&str]) -> Vec<Spec> {
        v.iter().map(|s| Spec::parse(s).unwrap()).collect()
    }

    fn avail(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn picks_the_highest_in_range() {
        let r = reduce(&specs(&[">=1.0.0", "<2.0.0"])).unwrap();
        let a = avail(&["0.9.0", "1.0.0", "1.3.2", "2.0.0"]);
        assert_eq!(resolve(&r, &a).as_deref(), Some("1.3.2"));
        assert_eq!(r.describe(), ">=1.0.0, <2.0.0");
    }

    #[test]
    fn intersects_ranges_of_the_whole_tree() {
        let r = reduce(&specs(&[">=1.0.0", "<2.0.0", ">=1.1.0", "<1.3.0"])).unwrap();
        let a = avail(&["1.0.0", "1.1.0", "1.2.5", "1.3.0"]);
        assert_eq!(resolve(&r, &a).as_deref(), Some("1.2.5"));
        assert!(reduce(&specs(&[">=2.0.0", "<1.0.0"])).is_err());
        assert!(reduce(&specs(&["1.0.0", "1.1.0"])).is_err());
    }

    #[test]
    fn prereleases_only_when_asked() {
        let a = avail(&["1.0.0", "1.1.0-b1", "1.1.0"]);
        assert_eq!(filter_installable(&a, false), avail(&["1.0.0", "1.1.0"]));
        assert_eq!(
            filter_installable(&a, true),
            avail(&["1.0.0", "1.1.0-b1", "1.1.0"])
        );
        // A `<` bound excludes the pre-releases of its own base version.
        let r = reduce(&specs(&["<1.1.0"])).unwrap();
        assert_eq!(
            resolve(&r, &avail(&["1.0.0", "1.1.0-b1"])).as_deref(),
            Some("1.0.0")
        );
    }

    #[test]
    fn rejects_what_dbt_rejects() {
        assert!(Spec::parse("1.0").is_none());
        assert!(Spec::parse(">=1.0.0,<2.0.0").is_none());
        assert!(Spec::parse("v1.0.0").is_none());
        assert!(Spec::parse("<=1.0.0").is_some());
    }
}
