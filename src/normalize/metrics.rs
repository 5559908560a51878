//! Azure Monitor metrics responses (`arm.eventhub.metrics`): each namespace's hourly totals of
//! messages in and out, throttled requests and bytes, per hub and for the namespace.
//!
//! They are most of a large tenant's evidence (70 % of a 6,000-namespace bundle's bytes), so a
//! page is read straight from its bytes into the few fields used here ([`read`]) instead of a
//! JSON tree of every key, on the reading threads. That typed reading takes a body only when it
//! sees it exactly as the JSON reading would: an array where an object is due, a field spelt in
//! another case (the JSON reading matches keys case-insensitively), a duplicated key or a value
//! of another type makes it decline, and the body is then parsed as JSON and read by
//! [`from_json`], which builds the same [`Response`] with the normaliser's lenient rules. Both
//! go through one [`totals`], so they cannot disagree on what a page says.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::model::{MetricHour, Metrics};
use super::raw;

/// Totals of each metric, per entity (hub, lower-cased) and for the whole namespace.
#[derive(Default, Debug, Clone, PartialEq)]
pub struct MetricTotals {
    pub namespace: Metrics,
    pub by_entity: BTreeMap<String, Metrics>,
    /// How many metrics the response lists (its `value` array).
    pub listed: usize,
}

/// Reads a metrics page straight from its bytes, or `None` when the typed reading cannot take
/// it exactly as the JSON reading would (then [`from_json`] reads the parsed body).
pub fn read(bytes: &[u8]) -> Option<MetricTotals> {
    serde_json::from_slice::<Obj<Response>>(bytes)
        .ok()
        .map(|r| totals(&r.0))
}

/// Reads a parsed metrics page with the normaliser's lenient rules (keys matched in any case,
/// numbers and strings taken for each other, other types read as absent).
pub fn from_json(body: &Value) -> MetricTotals {
    totals(&Response::lenient(body))
}

/// One entry of a batched read's `values` (metrics:getBatch): a metrics response whose window
/// is given as `starttime` and `endtime` instead of `timespan` (MetricBatchExample.json,
/// api-version 2023-10-01), shown as `start/end` like the per-resource response's.
pub fn from_batch_entry(entry: &Value) -> MetricTotals {
    let mut t = from_json(entry);
    if t.namespace.timespan.is_none() {
        let text = |k: &str| raw::s(entry, &[k]);
        if let (Some(a), Some(b)) = (text("starttime"), text("endtime")) {
            let span = Some(format!("{a}/{b}"));
            t.namespace.timespan = span.clone();
            for m in t.by_entity.values_mut() {
                m.timespan = span.clone();
            }
        }
    }
    t
}

/// The fields of a metrics response that the totals use. Strings are borrowed from the body
/// (its bytes, or its JSON tree) wherever they need no unescaping: a large tenant's pages hold
/// millions of data points, and a copy of each timestamp was most of the reading's cost.
#[derive(Deserialize, Default, Debug, PartialEq)]
struct Response<'a> {
    #[serde(borrow)]
    timespan: Option<Leaf<'a>>,
    #[serde(borrow)]
    value: Vec<Obj<Metric<'a>>>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
struct Metric<'a> {
    #[serde(borrow)]
    name: Option<Obj<Named<'a>>>,
    #[serde(rename = "errorCode", borrow)]
    error_code: Option<Leaf<'a>>,
    #[serde(rename = "errorMessage", borrow)]
    error_message: Option<Leaf<'a>>,
    #[serde(borrow)]
    timeseries: Option<Vec<Obj<Series<'a>>>>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
struct Series<'a> {
    #[serde(borrow)]
    metadatavalues: Option<Vec<Obj<Metadata<'a>>>>,
    #[serde(borrow)]
    data: Option<Vec<Obj<Point<'a>>>>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
struct Metadata<'a> {
    #[serde(borrow)]
    name: Option<Obj<Named<'a>>>,
    #[serde(borrow)]
    value: Option<Leaf<'a>>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
struct Named<'a> {
    #[serde(borrow)]
    value: Option<Leaf<'a>>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
struct Point<'a> {
    #[serde(rename = "timeStamp", borrow)]
    time_stamp: Option<Leaf<'a>>,
    #[serde(borrow)]
    total: Option<Leaf<'a>>,
}

/// The JSON keys of a typed object, as spelt in the response: a key that matches one of them
/// only in another case makes the typed reading decline.
trait Fields {
    const FIELDS: &'static [&'static str];
}

/// The same object read from a JSON tree with the lenient rules, borrowing its strings.
trait Lenient<'a>: Default {
    fn lenient(v: &'a Value) -> Self;
}

impl Fields for Response<'_> {
    const FIELDS: &'static [&'static str] = &["timespan", "value"];
}

impl<'a> Lenient<'a> for Response<'a> {
    fn lenient(v: &'a Value) -> Self {
        Response {
            timespan: leaf(v, "timespan"),
            value: objects(v, "value").unwrap_or_default(),
        }
    }
}

impl Fields for Metric<'_> {
    const FIELDS: &'static [&'static str] = &["name", "errorCode", "errorMessage", "timeseries"];
}

impl<'a> Lenient<'a> for Metric<'a> {
    fn lenient(v: &'a Value) -> Self {
        Metric {
            name: object(v, "name"),
            error_code: leaf(v, "errorCode"),
            error_message: leaf(v, "errorMessage"),
            timeseries: objects(v, "timeseries"),
        }
    }
}

impl Fields for Series<'_> {
    const FIELDS: &'static [&'static str] = &["metadatavalues", "data"];
}

impl<'a> Lenient<'a> for Series<'a> {
    fn lenient(v: &'a Value) -> Self {
        Series {
            metadatavalues: objects(v, "metadatavalues"),
            data: objects(v, "data"),
        }
    }
}

impl Fields for Metadata<'_> {
    const FIELDS: &'static [&'static str] = &["name", "value"];
}

impl<'a> Lenient<'a> for Metadata<'a> {
    fn lenient(v: &'a Value) -> Self {
        Metadata {
            name: object(v, "name"),
            value: leaf(v, "value"),
        }
    }
}

impl Fields for Named<'_> {
    const FIELDS: &'static [&'static str] = &["value"];
}

impl<'a> Lenient<'a> for Named<'a> {
    fn lenient(v: &'a Value) -> Self {
        Named {
            value: leaf(v, "value"),
        }
    }
}

impl Fields for Point<'_> {
    const FIELDS: &'static [&'static str] = &["timeStamp", "total"];
}

impl<'a> Lenient<'a> for Point<'a> {
    fn lenient(v: &'a Value) -> Self {
        Point {
            time_stamp: leaf(v, "timeStamp"),
            total: leaf(v, "total"),
        }
    }
}

/// A scalar (or any value): a string, borrowed where it can be, or other JSON; long strings
/// capped as every body's are.
#[derive(Debug, PartialEq)]
enum Leaf<'a> {
    Str(Cow<'a, str>),
    Json(Value),
}

impl<'a> Leaf<'a> {
    /// A string leaf, cut as [`crate::evidence::cap_strings`] cuts a body's strings.
    fn string(s: Cow<'a, str>) -> Self {
        let max = crate::evidence::MAX_STRING_BYTES;
        if s.len() > max {
            Leaf::Str(Cow::Owned(crate::evidence::truncate_marked(&s, max)))
        } else {
            Leaf::Str(s)
        }
    }

    /// Any other value, its strings capped.
    fn json(mut v: Value) -> Self {
        crate::evidence::cap_strings(&mut v, crate::evidence::MAX_STRING_BYTES);
        Leaf::Json(v)
    }

    /// A value of a parsed body (already capped), its string borrowed.
    fn of(v: &'a Value) -> Self {
        match v {
            Value::String(x) => Leaf::Str(Cow::Borrowed(x)),
            other => Leaf::Json(other.clone()),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Leaf<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Any<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Any<'a> {
            type Value = Leaf<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Leaf<'a>, E> {
                Ok(Leaf::string(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Leaf<'a>, E> {
                Ok(Leaf::string(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Leaf<'a>, E> {
                Ok(Leaf::string(Cow::Owned(v)))
            }
            // The rest as serde_json's own `Value` reads them.
            fn visit_bool<E>(self, v: bool) -> Result<Leaf<'a>, E> {
                Ok(Leaf::Json(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Leaf<'a>, E> {
                Ok(Leaf::Json(Value::Number(v.into())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Leaf<'a>, E> {
                Ok(Leaf::Json(Value::Number(v.into())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Leaf<'a>, E> {
                Ok(Leaf::Json(
                    serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
                ))
            }
            fn visit_unit<E>(self) -> Result<Leaf<'a>, E> {
                Ok(Leaf::Json(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Leaf<'a>, E> {
                Ok(Leaf::Json(Value::Null))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Leaf<'a>, D::Error> {
                Leaf::deserialize(d)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Leaf<'a>, A::Error> {
                Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Leaf::json)
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Leaf<'a>, M::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(Leaf::json)
            }
        }
        d.deserialize_any(Any(PhantomData))
    }
}

impl Leaf<'_> {
    fn text(leaf: &Option<Leaf<'_>>) -> Option<String> {
        Leaf::text_ref(leaf).map(Cow::into_owned)
    }

    /// [`Leaf::text`] without copying a string: a non-empty string, or a number or boolean
    /// as text (as [`raw::as_s`] reads a JSON value).
    fn text_ref<'l>(leaf: &'l Option<Leaf<'_>>) -> Option<Cow<'l, str>> {
        match leaf.as_ref()? {
            Leaf::Str(x) if !x.is_empty() => Some(Cow::Borrowed(x)),
            Leaf::Str(_) => None,
            Leaf::Json(v) => raw::as_s(v).map(Cow::Owned),
        }
    }

    /// A number, or a numeric string (as [`raw::as_n`] reads a JSON value).
    fn number(leaf: &Option<Leaf<'_>>) -> Option<f64> {
        match leaf.as_ref()? {
            Leaf::Str(x) => x.trim().parse().ok(),
            Leaf::Json(v) => raw::as_n(v),
        }
    }
}

/// A typed object that must be a JSON object (a derived struct would also take an array, by
/// position) and whose keys must not match its fields only in another case.
#[derive(Debug, Default, PartialEq)]
struct Obj<T>(T);

impl<'de, T: Deserialize<'de> + Fields> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Fields> Visitor<'de> for Object<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Obj<T>, M::Error> {
                let guarded = ExactKeys {
                    map,
                    fields: T::FIELDS,
                };
                T::deserialize(de::value::MapAccessDeserializer::new(guarded)).map(Obj)
            }
        }
        d.deserialize_map(Object(PhantomData))
    }
}

/// Hands a map's keys to a derived struct, refusing one that names a field in another case.
struct ExactKeys<M> {
    map: M,
    fields: &'static [&'static str],
}

impl<'de, M: MapAccess<'de>> MapAccess<'de> for ExactKeys<M> {
    type Error = M::Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, M::Error> {
        let Some(Key(key)) = self.map.next_key::<Key<'de>>()? else {
            return Ok(None);
        };
        if self
            .fields
            .iter()
            .any(|f| *f != key && f.eq_ignore_ascii_case(&key))
        {
            return Err(de::Error::custom(format!("key {key:?} in another case")));
        }
        let key: &str = &key;
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, M::Error> {
        self.map.next_value_seed(seed)
    }
}

/// A map key, borrowed from the bytes when it has no escapes.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct K;
        impl<'de> Visitor<'de> for K {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(v.to_string().into()))
            }
        }
        d.deserialize_str(K)
    }
}

/// A non-null field, its string borrowed.
fn leaf<'a>(v: &'a Value, key: &str) -> Option<Leaf<'a>> {
    raw::field(v, key).filter(|x| !x.is_null()).map(Leaf::of)
}

/// A field that is an object.
fn object<'a, T: Lenient<'a>>(v: &'a Value, key: &str) -> Option<Obj<T>> {
    raw::field(v, key)
        .filter(|x| x.is_object())
        .map(|x| Obj(T::lenient(x)))
}

/// A field that is an array; an element that is not an object reads as one without fields.
fn objects<'a, T: Lenient<'a>>(v: &'a Value, key: &str) -> Option<Vec<Obj<T>>> {
    match raw::field(v, key) {
        Some(Value::Array(a)) => Some(a.iter().map(|x| Obj(T::lenient(x))).collect()),
        _ => None,
    }
}

fn set_metric(m: &mut Metrics, name: &str, value: Option<f64>) {
    match name.to_ascii_lowercase().as_str() {
        "incomingmessages" => m.incoming_messages = value,
        "outgoingmessages" => m.outgoing_messages = value,
        "throttledrequests" => m.throttled_requests = value,
        "incomingbytes" => m.incoming_bytes = value,
        _ => {}
    }
}

fn get_metric(m: &Metrics, name: &str) -> Option<f64> {
    match name.to_ascii_lowercase().as_str() {
        "incomingmessages" => m.incoming_messages,
        "outgoingmessages" => m.outgoing_messages,
        "throttledrequests" => m.throttled_requests,
        "incomingbytes" => m.incoming_bytes,
        _ => None,
    }
}

fn finish_metrics(m: &mut Metrics) {
    m.backlog = match (m.incoming_messages, m.outgoing_messages) {
        (Some(i), Some(o)) => Some(i - o),
        _ => None,
    };
}

fn points<'s, 'a>(series: &'s Series<'a>) -> &'s [Obj<Point<'a>>] {
    series.data.as_deref().unwrap_or_default()
}

/// Hourly totals keyed by timestamp, kept in timestamp order. The series of a response share
/// their timestamps, in order, so the slot a point falls in is nearly always the one after
/// the last point's: that is tried before a search.
#[derive(Default)]
struct Hours(Vec<MetricHour>);

impl Hours {
    /// The slot for `at`, made when it is new; `hint` is where it likely is.
    fn slot(&mut self, at: &str, hint: usize) -> usize {
        if self.0.get(hint).is_some_and(|h| h.at == at) {
            return hint;
        }
        match self.0.binary_search_by(|h| h.at.as_str().cmp(at)) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(
                    i,
                    MetricHour {
                        at: at.to_string(),
                        ..MetricHour::default()
                    },
                );
                i
            }
        }
    }
}

/// Adds a series' hourly totals into `hours` (one slot per timeStamp) for the sparkline
/// metrics.
fn add_hours(hours: &mut Hours, name: &str, series: &Series<'_>) {
    let name = name.to_ascii_lowercase();
    if !matches!(
        name.as_str(),
        "incomingmessages" | "outgoingmessages" | "throttledrequests"
    ) {
        return;
    }
    let mut hint = 0;
    for Obj(d) in points(series) {
        let Some(at) = Leaf::text_ref(&d.time_stamp) else {
            continue;
        };
        let i = hours.slot(&at, hint);
        hint = i + 1;
        let h = &mut hours.0[i];
        let Some(v) = Leaf::number(&d.total) else {
            continue;
        };
        let slot = match name.as_str() {
            "incomingmessages" => &mut h.incoming_messages,
            "outgoingmessages" => &mut h.outgoing_messages,
            _ => &mut h.throttled_requests,
        };
        *slot = Some(slot.unwrap_or(0.0) + v);
    }
}

/// Sums the data points that carry a `total`. Slots without data omit the key; a series where
/// no slot has one carries no figure at all, so its total is unknown, not zero.
fn series_total(series: &Series<'_>) -> Option<f64> {
    let totals: Vec<f64> = points(series)
        .iter()
        .filter_map(|Obj(d)| Leaf::number(&d.total))
        .collect();
    (!totals.is_empty()).then(|| totals.iter().sum())
}

fn name_of(named: &Option<Obj<Named<'_>>>) -> Option<String> {
    named.as_ref().and_then(|Obj(n)| Leaf::text(&n.value))
}

/// A response's totals, per hub (the `EntityName` dimension) and for the namespace.
fn totals(body: &Response<'_>) -> MetricTotals {
    let mut t = MetricTotals {
        namespace: Metrics {
            timespan: Leaf::text(&body.timespan),
            ..Metrics::default()
        },
        by_entity: BTreeMap::new(),
        listed: body.value.len(),
    };
    let mut errors: Vec<String> = Vec::new();
    let mut ns_hours = Hours::default();
    let mut entity_hours: BTreeMap<String, Hours> = BTreeMap::new();
    for Obj(m) in &body.value {
        let name = name_of(&m.name).unwrap_or_default();
        let code = Leaf::text(&m.error_code);
        if let Some(code) = code.filter(|c| !c.eq_ignore_ascii_case("Success")) {
            let msg = Leaf::text(&m.error_message).unwrap_or_default();
            errors.push(format!("{name}: {code} {msg}").trim_end().to_string());
            set_metric(&mut t.namespace, &name, None);
            continue;
        }
        let mut total: Option<f64> = None;
        for Obj(series) in m.timeseries.as_deref().unwrap_or_default() {
            let entity = series
                .metadatavalues
                .as_deref()
                .unwrap_or_default()
                .iter()
                .find(|Obj(md)| {
                    name_of(&md.name).is_some_and(|n| n.eq_ignore_ascii_case("EntityName"))
                })
                .and_then(|Obj(md)| Leaf::text(&md.value));
            let sum = series_total(series);
            add_hours(&mut ns_hours, &name, series);
            if let Some(e) = &entity {
                add_hours(
                    entity_hours.entry(e.to_ascii_lowercase()).or_default(),
                    &name,
                    series,
                );
            }
            if let Some(x) = sum {
                total = Some(total.unwrap_or(0.0) + x);
            }
            if let Some(e) = entity {
                let em = t.by_entity.entry(e.to_ascii_lowercase()).or_default();
                let prev = get_metric(em, &name);
                set_metric(
                    em,
                    &name,
                    match (prev, sum) {
                        (Some(a), Some(b)) => Some(a + b),
                        (a, b) => a.or(b),
                    },
                );
            }
        }
        set_metric(&mut t.namespace, &name, total);
    }
    t.namespace.errors = errors.clone();
    t.namespace.hourly = ns_hours.0;
    finish_metrics(&mut t.namespace);
    for (e, m) in t.by_entity.iter_mut() {
        m.timespan = t.namespace.timespan.clone();
        m.errors = errors.clone();
        m.hourly = entity_hours.remove(e).unwrap_or_default().0;
        finish_metrics(m);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The typed reading of `text`, or `None` when it declines.
    fn typed(text: &str) -> Option<Response<'_>> {
        serde_json::from_str::<Obj<Response>>(text)
            .ok()
            .map(|r| r.0)
    }

    fn tree(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    /// Microsoft's published metrics responses and the demo tenants' bodies read the same
    /// both ways, and the typed reading takes every one of them.
    #[test]
    fn published_and_fixture_responses_read_the_same_typed_and_as_json() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = vec![
            root.join(
                "fixtures/shapes/arm.eventhub.metrics/missing-aggregate-slots-2018-01-01.json",
            ),
            root.join("fixtures/shapes/arm.eventhub.metrics/per-metric-error-2018-01-01.json"),
        ];
        for t in std::fs::read_dir(root.join("fixtures/tenants")).unwrap() {
            let arm = t.unwrap().path().join("raw/arm");
            for f in std::fs::read_dir(&arm).into_iter().flatten() {
                let f = f.unwrap().path();
                let name = f.file_name().unwrap().to_string_lossy().to_string();
                if name.starts_with("arm.eventhub.metrics") && name.ends_with(".json") {
                    files.push(f);
                }
            }
        }
        assert!(files.len() >= 6, "metrics bodies found: {files:?}");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            let t =
                typed(&text).unwrap_or_else(|| panic!("{}: typed reading declined", f.display()));
            assert_eq!(t, Response::lenient(&tree(&text)), "{}", f.display());
            assert_eq!(
                read(text.as_bytes()),
                Some(from_json(&serde_json::from_str(&text).unwrap())),
                "{}",
                f.display()
            );
        }
    }

    /// Bodies the typed reading must not take, because the JSON reading sees them otherwise:
    /// it declines, and the lenient reading is what counts.
    #[test]
    fn the_typed_reading_declines_what_it_would_read_otherwise() {
        let declined = [
            // An array where an object is due (a derived struct would read it by position).
            r#"[null, []]"#,
            r#"{"value": [{"name": ["IncomingMessages"]}]}"#,
            // A key in another case: the JSON reading matches it, a derived struct would not.
            r#"{"value": [{"name": {"Value": "IncomingMessages"}}]}"#,
            r#"{"value": [{"timeseries": [{"data": [{"TimeStamp": "t", "total": 1}]}]}]}"#,
            r#"{"Value": []}"#,
            // A duplicated key (the JSON reading keeps the last).
            r#"{"value": [], "value": [{"name": {"value": "IncomingMessages"}}]}"#,
            // Elements that are not objects, and a `value` that is not a list.
            r#"{"value": [{"timeseries": [{"data": [1, {"total": 2}]}]}]}"#,
            r#"{"value": [3]}"#,
            r#"{"value": null}"#,
            r#"{"timespan": "x"}"#,
        ];
        for text in declined {
            assert!(typed(text).is_none(), "typed reading took {text}");
            assert!(read(text.as_bytes()).is_none(), "read took {text}");
        }
        // Leaves of any type are kept as JSON and judged as the JSON reading judges them.
        let taken = [
            r#"{"value": [{"name": {"value": 7}, "timeseries": [{"data": [{"timeStamp": "t", "total": "12.5"}]}]}]}"#,
            r#"{"value": [{"name": {"value": "IncomingMessages"}, "timeseries": [{"data": [{"timeStamp": null, "total": {"a": 1}}]}]}]}"#,
            r#"{"timespan": 5, "value": [{"errorCode": "Throttled", "errorMessage": null, "extra": [1, {"Name": 2}]}]}"#,
            r#"{"value": [], "Cost": 1}"#,
        ];
        for text in taken {
            let t = typed(text).unwrap_or_else(|| panic!("typed reading declined {text}"));
            assert_eq!(t, Response::lenient(&tree(text)), "{text}");
        }
    }

    /// Each typed object's `FIELDS` are exactly the keys its derived reading knows, so a key in
    /// another case is always caught.
    #[test]
    fn fields_are_the_derived_keys() {
        use serde::de::value::Error;
        /// A deserializer that only records the fields a struct asks for.
        struct Capture(&'static [&'static str]);
        impl<'de> Deserializer<'de> for &mut Capture {
            type Error = Error;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
                Err(de::Error::custom("not a struct"))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Error> {
                self.0 = fields;
                Err(de::Error::custom("captured"))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
                byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
                identifier ignored_any
            }
        }
        fn fields_of<'de, T: Deserialize<'de> + Fields>() {
            let mut c = Capture(&[]);
            let _ = T::deserialize(&mut c);
            assert_eq!(c.0, T::FIELDS, "{}", std::any::type_name::<T>());
        }
        fields_of::<Response<'_>>();
        fields_of::<Metric<'_>>();
        fields_of::<Series<'_>>();
        fields_of::<Metadata<'_>>();
        fields_of::<Named<'_>>();
        fields_of::<Point<'_>>();
    }

    /// A long string is capped as every body's strings are.
    #[test]
    fn long_strings_are_capped_as_in_a_json_body() {
        let long = "x".repeat(crate::evidence::MAX_STRING_BYTES + 10);
        let text = format!(r#"{{"timespan": "{long}", "value": []}}"#);
        let t = read(text.as_bytes()).unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        crate::evidence::cap_strings(&mut v, crate::evidence::MAX_STRING_BYTES);
        assert_eq!(t, from_json(&v));
        assert!(t.namespace.timespan.unwrap().len() <= crate::evidence::MAX_STRING_BYTES);
    }
}
