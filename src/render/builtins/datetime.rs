//! `modules.datetime` and `modules.pytz`, and the `run_started_at` value: Python's
//! `date`, `datetime`, `timedelta` and timezones over chrono and chrono-tz.
//!
//! minijinja cannot overload operators, so `a - b` on datetimes does not work;
//! Python's methods do (`strftime`, `isoformat`, `astimezone`, `replace`, `date()`,
//! and `add`/`sub` with a `timedelta` as a sluice extension is not offered: use SQL).

use std::sync::Arc;

use chrono::{
    DateTime as ChronoDateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime,
    NaiveTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use minijinja::value::{from_args, Kwargs, Object, ObjectRepr, Rest, Value};
use minijinja::{Error, ErrorKind, State};

fn err(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// A timezone as pytz/datetime give them.
#[derive(Clone, Debug)]
pub enum Zone {
    Utc,
    Named(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    fn name(&self) -> String {
        match self {
            Zone::Utc => "UTC".to_owned(),
            Zone::Named(tz) => tz.name().to_owned(),
            Zone::Fixed(o) => format!("UTC{o}"),
        }
    }

    /// The offset this zone has at a UTC instant.
    fn offset_at_utc(&self, utc: &NaiveDateTime) -> FixedOffset {
        match self {
            Zone::Utc => FixedOffset::east_opt(0).expect("0 is a valid offset"),
            Zone::Named(tz) => tz.offset_from_utc_datetime(utc).fix(),
            Zone::Fixed(o) => *o,
        }
    }

    /// The offset for a local wall time (pytz's `localize`, earliest if ambiguous).
    fn offset_at_local(&self, local: &NaiveDateTime) -> FixedOffset {
        match self {
            Zone::Named(tz) => tz
                .offset_from_local_datetime(local)
                .earliest()
                .map(|o| o.fix())
                .unwrap_or_else(|| self.offset_at_utc(local)),
            _ => self.offset_at_utc(local),
        }
    }

    /// The abbreviation `%Z` prints.
    fn abbreviation(&self, utc: &NaiveDateTime) -> String {
        match self {
            Zone::Utc => "UTC".to_owned(),
            Zone::Named(tz) => tz.offset_from_utc_datetime(utc).to_string(),
            Zone::Fixed(o) => format!("UTC{o}"),
        }
    }
}

impl Object for Zone {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "zone" => Some(Value::from(self.name())),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            // pytz: attach this zone to a naive datetime.
            "localize" => {
                let (dt,): (Value,) = from_args(args)?;
                let dt = as_datetime(&dt)?;
                let offset = self.offset_at_local(&dt.local);
                Ok(DateTime::value(DateTime {
                    local: dt.local,
                    tz: Some((Zone::clone(self), offset)),
                }))
            }
            "utcoffset" => {
                let (dt,): (Value,) = from_args(args)?;
                let dt = as_datetime(&dt)?;
                let o = self.offset_at_local(&dt.local);
                Ok(TimeDelta::value(Duration::seconds(
                    o.local_minus_utc() as i64
                )))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

fn zone_named(name: &str) -> Result<Zone, Error> {
    match name {
        "UTC" | "utc" | "Etc/UTC" | "Universal" | "Zulu" => Ok(Zone::Utc),
        _ => name.parse::<Tz>().map(Zone::Named).map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("pytz.timezone: unknown timezone {name:?} (use an IANA name such as 'America/New_York')"),
            )
        }),
    }
}

/// A Python `datetime`: wall time, and its zone and offset when aware.
#[derive(Clone, Debug)]
pub struct DateTime {
    pub local: NaiveDateTime,
    pub tz: Option<(Zone, FixedOffset)>,
}

impl DateTime {
    pub fn value(dt: DateTime) -> Value {
        Value::from_object(dt)
    }

    /// `run_started_at`: an aware UTC datetime, as dbt's.
    pub fn utc(at: ChronoDateTime<Utc>) -> DateTime {
        DateTime {
            local: at.naive_utc(),
            tz: Some((
                Zone::Utc,
                FixedOffset::east_opt(0).expect("0 is a valid offset"),
            )),
        }
    }

    fn utc_naive(&self) -> NaiveDateTime {
        match &self.tz {
            Some((_, o)) => self.local - Duration::seconds(o.local_minus_utc() as i64),
            None => self.local,
        }
    }

    fn strftime(&self, fmt: &str) -> String {
        strftime(&self.local, self.tz.as_ref(), &self.utc_naive(), fmt)
    }

    fn isoformat(&self, sep: &str) -> String {
        let mut s = self
            .local
            .format(&format!("%Y-%m-%d{sep}%H:%M:%S"))
            .to_string();
        if self.local.nanosecond() / 1000 != 0 {
            s.push_str(&format!(".{:06}", self.local.nanosecond() / 1000));
        }
        if let Some((_, o)) = &self.tz {
            s.push_str(&offset_str(o, true));
        }
        s
    }
}

fn offset_str(o: &FixedOffset, colon: bool) -> String {
    let secs = o.local_minus_utc();
    let sign = if secs < 0 { '-' } else { '+' };
    let secs = secs.abs();
    if colon {
        format!("{sign}{:02}:{:02}", secs / 3600, secs % 3600 / 60)
    } else {
        format!("{sign}{:02}{:02}", secs / 3600, secs % 3600 / 60)
    }
}

/// Python's strftime on chrono: `%f` is microseconds, `%z`/`%Z` empty when naive.
fn strftime(
    local: &NaiveDateTime,
    tz: Option<&(Zone, FixedOffset)>,
    utc: &NaiveDateTime,
    fmt: &str,
) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => out.push_str(&format!("{:06}", local.nanosecond() / 1000)),
            Some('z') => {
                if let Some((_, o)) = tz {
                    out.push_str(&offset_str(o, false));
                }
            }
            Some('Z') => {
                if let Some((z, _)) = tz {
                    out.push_str(&z.abbreviation(utc));
                }
            }
            Some('%') => out.push('%'),
            Some(other) => {
                let spec = format!("%{other}");
                // chrono panics on an unknown specifier when displayed: check first.
                let items: Vec<_> = chrono::format::StrftimeItems::new(&spec).collect();
                if items
                    .iter()
                    .any(|i| matches!(i, chrono::format::Item::Error))
                {
                    out.push_str(&spec);
                } else {
                    out.push_str(&local.format_with_items(items.into_iter()).to_string());
                }
            }
            None => out.push('%'),
        }
    }
    out
}

fn as_datetime(v: &Value) -> Result<DateTime, Error> {
    if let Some(dt) = v.downcast_object_ref::<DateTime>() {
        return Ok(dt.clone());
    }
    if let Some(d) = v.downcast_object_ref::<Date>() {
        return Ok(DateTime {
            local: d.0.and_time(NaiveTime::MIN),
            tz: None,
        });
    }
    Err(err(format!("expected a datetime, got {}", v.kind())))
}

fn as_zone(v: &Value) -> Result<Zone, Error> {
    match v.downcast_object_ref::<Zone>() {
        Some(z) => Ok(z.clone()),
        None => match v.as_str() {
            Some(name) => zone_named(name),
            None => Err(err(format!("expected a timezone, got {}", v.kind()))),
        },
    }
}

impl Object for DateTime {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let l = &self.local;
        Some(match key.as_str()? {
            "year" => Value::from(l.year()),
            "month" => Value::from(l.month()),
            "day" => Value::from(l.day()),
            "hour" => Value::from(l.hour()),
            "minute" => Value::from(l.minute()),
            "second" => Value::from(l.second()),
            "microsecond" => Value::from(l.nanosecond() / 1000),
            "tzinfo" => match &self.tz {
                Some((z, _)) => Value::from_object(z.clone()),
                None => Value::from(()),
            },
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "strftime" => {
                let (fmt,): (String,) = from_args(args)?;
                Ok(Value::from(self.strftime(&fmt)))
            }
            "isoformat" => {
                let (sep,): (Option<String>,) = from_args(args)?;
                Ok(Value::from(self.isoformat(sep.as_deref().unwrap_or("T"))))
            }
            "date" => Ok(Value::from_object(Date(self.local.date()))),
            "time" => Ok(Value::from(
                self.local.time().format("%H:%M:%S").to_string(),
            )),
            "timestamp" => {
                let utc = self.utc_naive();
                Ok(Value::from(utc.and_utc().timestamp_micros() as f64 / 1e6))
            }
            "weekday" => Ok(Value::from(self.local.weekday().num_days_from_monday())),
            "isoweekday" => Ok(Value::from(self.local.weekday().number_from_monday())),
            "astimezone" => {
                let (tz,): (Option<Value>,) = from_args(args)?;
                let zone = match tz {
                    Some(tz) => as_zone(&tz)?,
                    None => Zone::Utc,
                };
                let utc = self.utc_naive();
                let offset = zone.offset_at_utc(&utc);
                Ok(DateTime::value(DateTime {
                    local: utc + Duration::seconds(offset.local_minus_utc() as i64),
                    tz: Some((zone, offset)),
                }))
            }
            "replace" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let l = &self.local;
                let get = |k: &str, d: u32| -> Result<u32, Error> {
                    Ok(kwargs.get::<Option<u32>>(k)?.unwrap_or(d))
                };
                let year = kwargs.get::<Option<i32>>("year")?.unwrap_or(l.year());
                let date =
                    NaiveDate::from_ymd_opt(year, get("month", l.month())?, get("day", l.day())?)
                        .ok_or_else(|| err("replace(): day is out of range for month"))?;
                let time = NaiveTime::from_hms_micro_opt(
                    get("hour", l.hour())?,
                    get("minute", l.minute())?,
                    get("second", l.second())?,
                    get("microsecond", l.nanosecond() / 1000)?,
                )
                .ok_or_else(|| err("replace(): a time field is out of range"))?;
                let local = date.and_time(time);
                let tz = if kwargs.has("tzinfo") {
                    match kwargs.get::<Value>("tzinfo")? {
                        v if v.is_none() => None,
                        v => {
                            let z = as_zone(&v)?;
                            let o = z.offset_at_local(&local);
                            Some((z, o))
                        }
                    }
                } else {
                    self.tz.clone()
                };
                kwargs.assert_all_used()?;
                Ok(DateTime::value(DateTime { local, tz }))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Python's str(datetime): isoformat with a space.
        f.write_str(&self.isoformat(" "))
    }
}

/// A Python `date`.
#[derive(Clone, Debug)]
pub struct Date(pub NaiveDate);

impl Object for Date {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "year" => Value::from(self.0.year()),
            "month" => Value::from(self.0.month()),
            "day" => Value::from(self.0.day()),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let local = self.0.and_time(NaiveTime::MIN);
        match method {
            "strftime" => {
                let (fmt,): (String,) = from_args(args)?;
                Ok(Value::from(strftime(&local, None, &local, &fmt)))
            }
            "isoformat" => Ok(Value::from(self.0.format("%Y-%m-%d").to_string())),
            "weekday" => Ok(Value::from(self.0.weekday().num_days_from_monday())),
            "isoweekday" => Ok(Value::from(self.0.weekday().number_from_monday())),
            "replace" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let year = kwargs.get::<Option<i32>>("year")?.unwrap_or(self.0.year());
                let month = kwargs
                    .get::<Option<u32>>("month")?
                    .unwrap_or(self.0.month());
                let day = kwargs.get::<Option<u32>>("day")?.unwrap_or(self.0.day());
                kwargs.assert_all_used()?;
                NaiveDate::from_ymd_opt(year, month, day)
                    .map(|d| Value::from_object(Date(d)))
                    .ok_or_else(|| err("replace(): day is out of range for month"))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// A Python `timedelta`.
#[derive(Clone, Debug)]
pub struct TimeDelta(pub Duration);

impl TimeDelta {
    fn value(d: Duration) -> Value {
        Value::from_object(TimeDelta(d))
    }
}

impl Object for TimeDelta {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let total = self.0.num_microseconds().unwrap_or(i64::MAX);
        let days = total.div_euclid(86_400_000_000);
        let rest = total.rem_euclid(86_400_000_000);
        Some(match key.as_str()? {
            "days" => Value::from(days),
            "seconds" => Value::from(rest / 1_000_000),
            "microseconds" => Value::from(rest % 1_000_000),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "total_seconds" => Ok(Value::from(
                self.0.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6,
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Python's str(timedelta): `[D day[s], ]H:MM:SS[.ffffff]`.
        let total = self.0.num_microseconds().unwrap_or(i64::MAX);
        let days = total.div_euclid(86_400_000_000);
        let rest = total.rem_euclid(86_400_000_000);
        let (secs, micros) = (rest / 1_000_000, rest % 1_000_000);
        if days != 0 {
            write!(f, "{days} day{}, ", if days.abs() == 1 { "" } else { "s" })?;
        }
        write!(
            f,
            "{}:{:02}:{:02}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        )?;
        if micros != 0 {
            write!(f, ".{micros:06}")?;
        }
        Ok(())
    }
}

/// The classes of `modules.datetime`: calling one constructs, methods are its
/// class methods (`datetime.now()`, `date.today()`, `datetime.strptime(...)`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Class {
    DateTime,
    Date,
    TimeDelta,
    /// `datetime.timezone`: `.utc`.
    TimeZone,
}

fn now_in(tz: Option<Value>) -> Result<DateTime, Error> {
    let now = Utc::now();
    match tz {
        None => Ok(DateTime {
            local: chrono::Local::now().naive_local(),
            tz: None,
        }),
        Some(tz) if tz.is_none() => Ok(DateTime {
            local: chrono::Local::now().naive_local(),
            tz: None,
        }),
        Some(tz) => {
            let zone = as_zone(&tz)?;
            let utc = now.naive_utc();
            let offset = zone.offset_at_utc(&utc);
            Ok(DateTime {
                local: utc + Duration::seconds(offset.local_minus_utc() as i64),
                tz: Some((zone, offset)),
            })
        }
    }
}

/// Python's `strptime` directives, as chrono's: `%f` takes up to six digits.
fn strptime(s: &str, fmt: &str) -> Result<DateTime, Error> {
    let chrono_fmt = fmt.replace("%f", "%6f");
    let bad = || err(format!("time data {s:?} does not match format {fmt:?}"));
    if fmt.contains("%z") {
        let dt = ChronoDateTime::parse_from_str(s, &chrono_fmt).map_err(|_| bad())?;
        let offset = *dt.offset();
        return Ok(DateTime {
            local: dt.naive_local(),
            tz: Some((Zone::Fixed(offset), offset)),
        });
    }
    if let Ok(local) = NaiveDateTime::parse_from_str(s, &chrono_fmt) {
        return Ok(DateTime { local, tz: None });
    }
    NaiveDate::parse_from_str(s, &chrono_fmt)
        .map(|d| DateTime {
            local: d.and_time(NaiveTime::MIN),
            tz: None,
        })
        .map_err(|_| bad())
}

fn fromisoformat(s: &str) -> Result<DateTime, Error> {
    if let Ok(dt) = ChronoDateTime::parse_from_rfc3339(s) {
        let offset = *dt.offset();
        return Ok(DateTime {
            local: dt.naive_local(),
            tz: Some((Zone::Fixed(offset), offset)),
        });
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(local) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(DateTime { local, tz: None });
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| DateTime {
            local: d.and_time(NaiveTime::MIN),
            tz: None,
        })
        .map_err(|_| err(format!("Invalid isoformat string: {s:?}")))
}

impl Object for Class {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match (**self, key.as_str()?) {
            (Class::TimeZone, "utc") => Some(Value::from_object(Zone::Utc)),
            _ => None,
        }
    }

    fn call(self: &Arc<Self>, _state: &State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        match **self {
            Class::DateTime => {
                let (y, m, d, rest): (i32, u32, u32, Rest<Value>) = from_args(args)?;
                let (positional, kwargs) = match rest.split_last() {
                    Some((last, before)) if last.is_kwargs() => {
                        let (kw,): (Kwargs,) = from_args(std::slice::from_ref(last))?;
                        (before.to_vec(), kw)
                    }
                    _ => (
                        rest.to_vec(),
                        Kwargs::from_iter(Vec::<(String, Value)>::new()),
                    ),
                };
                let pos = |i: usize| -> Result<Option<u32>, Error> {
                    positional
                        .get(i)
                        .map(|v| u32::try_from(v.clone()))
                        .transpose()
                };
                let (h, mi, s, us) = (pos(0)?, pos(1)?, pos(2)?, pos(3)?);
                let h = h.or(kwargs.get("hour")?).unwrap_or(0);
                let mi = mi.or(kwargs.get("minute")?).unwrap_or(0);
                let s = s.or(kwargs.get("second")?).unwrap_or(0);
                let us = us.or(kwargs.get("microsecond")?).unwrap_or(0);
                let tz: Option<Value> = kwargs.get("tzinfo")?;
                kwargs.assert_all_used()?;
                let local = NaiveDate::from_ymd_opt(y, m, d)
                    .and_then(|d| d.and_hms_micro_opt(h, mi, s, us))
                    .ok_or_else(|| err("datetime(): a field is out of range"))?;
                let tz = match tz {
                    Some(tz) if !tz.is_none() => {
                        let z = as_zone(&tz)?;
                        let o = z.offset_at_local(&local);
                        Some((z, o))
                    }
                    _ => None,
                };
                Ok(DateTime::value(DateTime { local, tz }))
            }
            Class::Date => {
                let (y, m, d): (i32, u32, u32) = from_args(args)?;
                NaiveDate::from_ymd_opt(y, m, d)
                    .map(|d| Value::from_object(Date(d)))
                    .ok_or_else(|| err("date(): day is out of range for month"))
            }
            Class::TimeDelta => {
                let (days, seconds, microseconds, kwargs): (
                    Option<f64>,
                    Option<f64>,
                    Option<f64>,
                    Kwargs,
                ) = from_args(args)?;
                let mut total = 0f64;
                for (name, pos, unit) in [
                    ("days", days, 86_400e6),
                    ("seconds", seconds, 1e6),
                    ("microseconds", microseconds, 1.0),
                ] {
                    total += pos.or(kwargs.get(name)?).unwrap_or(0.0) * unit;
                }
                for (name, unit) in [
                    ("milliseconds", 1e3),
                    ("minutes", 60e6),
                    ("hours", 3600e6),
                    ("weeks", 7.0 * 86_400e6),
                ] {
                    total += kwargs.get::<Option<f64>>(name)?.unwrap_or(0.0) * unit;
                }
                kwargs.assert_all_used()?;
                Ok(TimeDelta::value(Duration::microseconds(
                    total.round() as i64
                )))
            }
            Class::TimeZone => Err(err(
                "datetime.timezone(offset) is not supported: use modules.pytz.timezone(name)",
            )),
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let dt = |d: DateTime| Ok(DateTime::value(d));
        match (**self, method) {
            (Class::DateTime, "now") => {
                let (tz,): (Option<Value>,) = from_args(args)?;
                dt(now_in(tz)?)
            }
            (Class::DateTime, "today") => dt(now_in(None)?),
            (Class::DateTime, "utcnow") => dt(DateTime {
                local: Utc::now().naive_utc(),
                tz: None,
            }),
            (Class::DateTime, "strptime") => {
                let (s, fmt): (String, String) = from_args(args)?;
                dt(strptime(&s, &fmt)?)
            }
            (Class::DateTime, "fromisoformat") => {
                let (s,): (String,) = from_args(args)?;
                dt(fromisoformat(&s)?)
            }
            (Class::DateTime, "fromtimestamp" | "utcfromtimestamp") => {
                let (ts, tz): (f64, Option<Value>) = from_args(args)?;
                let utc = ChronoDateTime::from_timestamp_micros((ts * 1e6) as i64)
                    .ok_or_else(|| err("timestamp out of range"))?
                    .naive_utc();
                match tz {
                    Some(tz) if !tz.is_none() => {
                        let zone = as_zone(&tz)?;
                        let offset = zone.offset_at_utc(&utc);
                        dt(DateTime {
                            local: utc + Duration::seconds(offset.local_minus_utc() as i64),
                            tz: Some((zone, offset)),
                        })
                    }
                    _ if method == "utcfromtimestamp" => dt(DateTime {
                        local: utc,
                        tz: None,
                    }),
                    _ => {
                        let local = chrono::Local.from_utc_datetime(&utc).naive_local();
                        dt(DateTime { local, tz: None })
                    }
                }
            }
            (Class::DateTime, "combine") => {
                let (d, t): (Value, Option<Value>) = from_args(args)?;
                let date = as_datetime(&d)?.local.date();
                let time = match t {
                    Some(t) => as_datetime(&t)?.local.time(),
                    None => NaiveTime::MIN,
                };
                dt(DateTime {
                    local: date.and_time(time),
                    tz: None,
                })
            }
            (Class::Date, "today") => {
                Ok(Value::from_object(Date(chrono::Local::now().date_naive())))
            }
            (Class::Date, "fromisoformat") => {
                let (s,): (String,) = from_args(args)?;
                NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                    .map(|d| Value::from_object(Date(d)))
                    .map_err(|_| err(format!("Invalid isoformat string: {s:?}")))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `modules.datetime`.
#[derive(Debug)]
pub struct DatetimeModule;

impl Object for DatetimeModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let class = match key.as_str()? {
            "datetime" => Class::DateTime,
            "date" => Class::Date,
            "timedelta" => Class::TimeDelta,
            "timezone" => Class::TimeZone,
            "MINYEAR" => return Some(Value::from(1)),
            "MAXYEAR" => return Some(Value::from(9999)),
            _ => return None,
        };
        Some(Value::from_object(class))
    }
}

/// `modules.pytz`.
#[derive(Debug)]
pub struct PytzModule;

impl Object for PytzModule {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "utc" | "UTC" => Some(Value::from_object(Zone::Utc)),
            _ => None,
        }
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "timezone" => {
                let (name,): (String,) = from_args(args)?;
                Ok(Value::from_object(zone_named(&name)?))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_formats() {
        let dt = DateTime::utc(
            NaiveDate::from_ymd_opt(2024, 3, 5)
                .and_then(|d| d.and_hms_micro_opt(7, 8, 9, 120))
                .expect("valid")
                .and_utc(),
        );
        assert_eq!(
            dt.strftime("%Y-%m-%d %H:%M:%S.%f %z %Z"),
            "2024-03-05 07:08:09.000120 +0000 UTC"
        );
        assert_eq!(dt.isoformat("T"), "2024-03-05T07:08:09.000120+00:00");
        let parsed = strptime("2024-01-31", "%Y-%m-%d").expect("parses");
        assert_eq!(parsed.isoformat(" "), "2024-01-31 00:00:00");
    }
}
