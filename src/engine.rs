//! The check engine: compiles CEL expressions at catalogue load and evaluates them against the
//! normalised model. This is the only module that imports `cel`.
//!
//! Fail closed: a check passes only when its assertion returns `true` and every evidence kind it
//! reads is usable. A missing field, a type error, a non-boolean result or unusable evidence
//! gives `not_assessed` with the reason; `applies = false` gives `not_applicable`.

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString,
};
use cel::common::value::Val;
use cel::objects::Key;
use cel::{Context, Env, Program, Value};
use serde_json::Value as Json;

use crate::catalog::{Check, OnEmpty, OnFail};
use crate::evidence::{kinds, EvidenceStatus, KindState};
use crate::normalize::model::Model;
use crate::results::{Finding, Status};

/// A check's compiled expressions.
pub struct Compiled {
    applies: Option<Program>,
    each: Option<Program>,
    name: Option<Program>,
    resource: Option<Program>,
    assert: Option<Program>,
    warn: Option<Program>,
    observed: Option<Program>,
    message: Option<Program>,
    unknown: Option<Program>,
}

fn env() -> Arc<Env> {
    thread_local! {
        static ENV: Arc<Env> = {
            let mut env = Env::stdlib();
            env.add_extension(cel::extensions::strings).expect("strings extension");
            Arc::new(env)
        };
    }
    ENV.with(Arc::clone)
}

/// Compiles every expression of a check; the error names the key and the line:column.
pub fn compile(check: &Check) -> Result<Compiled, String> {
    let env = env();
    let one = |key: &str, src: &Option<String>| -> Result<Option<Program>, String> {
        let Some(src) = src else { return Ok(None) };
        env.compile(src).map(Some).map_err(|e| {
            let detail: Vec<String> = e
                .errors
                .iter()
                .map(|pe| format!("{key}:{}:{}: {}", pe.pos.0.max(1), pe.pos.1 + 1, pe.msg))
                .collect();
            format!("expression does not compile: {}", detail.join("; "))
        })
    };
    Ok(Compiled {
        applies: one("applies", &check.applies)?,
        each: one("each", &check.each)?,
        name: one("name", &check.name)?,
        resource: one("resource", &check.resource)?,
        assert: one("assert", &check.assert)?,
        warn: one("warn", &check.warn)?,
        observed: one("observed", &check.observed)?,
        message: one("message", &check.message)?,
        unknown: one("unknown", &check.unknown)?,
    })
}

/// Converts JSON to CEL values: integers stay integers (so `x >= 2` compares like-for-like),
/// other numbers are floats.
pub fn to_cel(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::String(Arc::new(s.clone())),
        Json::Array(a) => Value::List(Arc::new(a.iter().map(to_cel).collect())),
        Json::Object(o) => {
            let map: HashMap<Key, Value> = o
                .iter()
                .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
                .collect();
            Value::Map(cel::objects::Map { map: Arc::new(map) })
        }
    }
}

/// From this many namespaces on, the namespaces are read into CEL values in parts on all
/// cores ([`NAMESPACES_PER_PART`] each) and the rest of the model's text is handed from a
/// writing thread to the reading one a few chunks at a time instead of being written whole
/// first: on a 6,000-namespace tenant the namespaces are nearly all of the scope (26 of 29 MB
/// of text, 91 MB with the hourly points) and one thread reading them was a sixth of the
/// audit. Below it one buffer is smaller than the threads' bookkeeping (and unoptimised test
/// builds read it faster).
const PIPE_FROM_NAMESPACES: usize = 64;

/// How many namespaces one part of the scope holds ([`PIPE_FROM_NAMESPACES`]): a part's text
/// is held whole while it is read (about 1 MB, 4 MB with the hourly points).
const NAMESPACES_PER_PART: usize = 256;

/// How much of the model's text one chunk of the pipe holds (the channel holds four).
const TEXT_CHUNK: usize = 64 * 1024;

thread_local! {
    /// Set while this thread serialises the model for a scope that leaves the
    /// [`REPORT_ONLY_FIELDS`] out ([`scope_text`]).
    static LEAVING_OUT_REPORT_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Set while this thread serialises the model without its namespaces, which are read
    /// apart ([`read_model`]).
    static LEAVING_OUT_NAMESPACES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// `skip_serializing_if` of the [`REPORT_ONLY_FIELDS`] in the model: true only while
/// [`scope_text`] writes a scope that leaves them out, so every other serialisation (results,
/// reports) keeps them. Not writing them at all saves the largest part of the scope's text on a
/// large tenant (96 hourly points per namespace), which [`CelSeed`] would only skip.
pub fn leaving_out_report_only<T>(_: &T) -> bool {
    crate::leave_out::is_on(&LEAVING_OUT_REPORT_ONLY)
}

/// `skip_serializing_if` of `eventhub.namespaces`: true only while [`read_model`] writes the
/// rest of a large model, whose namespaces it reads apart.
pub fn leaving_out_namespaces<T>(_: &T) -> bool {
    crate::leave_out::is_on(&LEAVING_OUT_NAMESPACES)
}

/// Writes `what` (the model, or a part of its namespaces) as JSON text for a scope, leaving
/// out the report-only fields named in `skip` (the only one is `hourly`) and, when
/// `without_namespaces`, the model's namespaces.
fn scope_text<W: std::io::Write, T: serde::Serialize + ?Sized>(
    w: W,
    what: &T,
    skip: &[&str],
    without_namespaces: bool,
) -> serde_json::Result<()> {
    use crate::leave_out::with;
    let leave = REPORT_ONLY_FIELDS.iter().all(|f| skip.contains(f));
    with(&LEAVING_OUT_REPORT_ONLY, leave, || {
        with(&LEAVING_OUT_NAMESPACES, without_namespaces, || {
            serde_json::to_writer(w, what)
        })
    })
}

/// The model's JSON text read into CEL values by [`CelSeed`]: through one buffer for a small
/// model; for a large one, its namespaces in parts on all cores and the rest through a pipe.
fn read_model(model: &Model, skip: &[&str], piped: bool) -> Variables {
    let keys = std::cell::RefCell::new(HashMap::new());
    if !piped {
        let mut text = Vec::new();
        scope_text(&mut text, model, skip, false).expect("the model serialises");
        return serde::de::DeserializeSeed::deserialize(
            Top {
                seed: CelSeed { keys: &keys, skip },
                namespaces: None,
            },
            &mut serde_json::Deserializer::from_slice(&text),
        )
        .expect("the model's own JSON parses");
    }
    let parts: Vec<&[crate::normalize::model::Namespace]> = model
        .eventhub
        .namespaces
        .chunks(NAMESPACES_PER_PART)
        .collect();
    let namespaces: Vec<Box<dyn Val>> = crate::parallel::map_in_order(&parts, |part| {
        let mut text = Vec::new();
        scope_text(&mut text, *part, skip, false).expect("the namespaces serialise");
        let keys = std::cell::RefCell::new(HashMap::new());
        serde::de::DeserializeSeed::deserialize(
            Elements(CelSeed { keys: &keys, skip }),
            &mut serde_json::Deserializer::from_slice(&text),
        )
        .expect("the namespaces' own JSON parses")
    })
    .into_iter()
    .flatten()
    .collect();
    let namespaces = std::cell::Cell::new(Some(namespaces));
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let writer = s.spawn(move || {
            let mut w = std::io::BufWriter::with_capacity(TEXT_CHUNK, Chunks(tx));
            scope_text(&mut w, model, skip, true)
                .map_err(std::io::Error::from)
                .and_then(|()| std::io::Write::flush(&mut w))
        });
        let reader = std::io::BufReader::with_capacity(
            TEXT_CHUNK,
            ChunkReader {
                rx,
                chunk: Vec::new(),
                at: 0,
            },
        );
        let mut de = serde_json::Deserializer::from_reader(reader);
        let seed = Top {
            seed: CelSeed { keys: &keys, skip },
            namespaces: Some(&namespaces),
        };
        let value = serde::de::DeserializeSeed::deserialize(seed, &mut de);
        drop(de); // closes the pipe, so a writer still sending stops
        let written = writer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        written.expect("the model serialises");
        value.expect("the model's own JSON parses")
    })
}

/// The writing end of the pipe: each buffered chunk goes to the reader.
struct Chunks(std::sync::mpsc::SyncSender<Vec<u8>>);

impl std::io::Write for Chunks {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .send(b.to_vec())
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The reading end: the chunks in order, then end of file when the writer is done.
struct ChunkReader {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    at: usize,
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.at >= self.chunk.len() {
            match self.rx.recv() {
                Ok(c) => (self.chunk, self.at) = (c, 0),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.chunk.len() - self.at);
        out[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Reads JSON straight into the interpreter's own values (`Box<dyn Val>`, what a CEL context
/// holds), with [`to_cel`]'s mapping: integers that fit `i64` are ints, other numbers floats.
/// Going through [`Value`] first would hold the scope twice while one is converted into the
/// other. Object keys are shared ([`shared_key`]).
#[derive(Clone, Copy)]
struct CelSeed<'k> {
    keys: &'k std::cell::RefCell<HashMap<String, CelMapKey<'static>>>,
    skip: &'k [&'k str],
}

impl CelSeed<'_> {
    fn key(&self, k: String) -> CelMapKey<'static> {
        let mut keys = self.keys.borrow_mut();
        if let Some(key) = keys.get(&k) {
            return key.clone();
        }
        let key = match shared_key(&k) {
            Some(shared) => CelMapKey::String(CelString::from(shared)),
            None => CelMapKey::String(CelString::from(k.clone())),
        };
        keys.insert(k, key.clone());
        key
    }
}

/// The most bytes of object keys kept for the process's lifetime by [`shared_key`].
const SHARED_KEY_BYTES: usize = 1 << 20;

/// A key string kept for the process's lifetime, so that every CEL map holding it borrows one
/// copy (the model repeats its few hundred field names hundreds of thousands of times on a
/// large tenant). At most [`SHARED_KEY_BYTES`] are kept across all audits of a process (a
/// fleet); past that, keys are copied into each map, which only costs memory.
fn shared_key(k: &str) -> Option<&'static str> {
    static KEYS: std::sync::Mutex<(std::collections::BTreeSet<&'static str>, usize)> =
        std::sync::Mutex::new((std::collections::BTreeSet::new(), 0));
    let mut keys = KEYS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(shared) = keys.0.get(k) {
        return Some(shared);
    }
    if keys.1 + k.len() > SHARED_KEY_BYTES {
        return None;
    }
    let shared: &'static str = Box::leak(k.to_owned().into_boxed_str());
    keys.0.insert(shared);
    keys.1 += k.len();
    Some(shared)
}

/// The model's top-level fields, each one CEL variable.
type Variables = Vec<(String, Box<dyn Val>)>;

/// Reads the model's top-level object into [`Variables`], its fields' values with [`CelSeed`].
/// `namespaces`, when given, are `eventhub.namespaces`, read apart and left out of the text.
struct Top<'k> {
    seed: CelSeed<'k>,
    namespaces: Option<&'k ReadApart>,
}

/// `eventhub.namespaces` read apart ([`read_model`]), until [`Top`] puts them in place.
type ReadApart = std::cell::Cell<Option<Vec<Box<dyn Val>>>>;

impl<'de> serde::de::DeserializeSeed<'de> for Top<'_> {
    type Value = Variables;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Variables, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Top<'_> {
    type Value = Variables;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("the model, an object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Variables, A::Error> {
        let mut out = Vec::new();
        while let Some(k) = map.next_key::<String>()? {
            if self.seed.skip.contains(&k.as_str()) {
                map.next_value::<serde::de::IgnoredAny>()?;
                continue;
            }
            let v = match self.namespaces.filter(|_| k == "eventhub") {
                Some(namespaces) => map.next_value_seed(WithNamespaces {
                    seed: self.seed,
                    namespaces: namespaces.take().unwrap_or_default(),
                })?,
                None => map.next_value_seed(self.seed)?,
            };
            out.push((k, v));
        }
        Ok(out)
    }
}

/// Reads the model's `eventhub` object, written without its namespaces, and puts back the
/// namespaces read apart.
struct WithNamespaces<'k> {
    seed: CelSeed<'k>,
    namespaces: Vec<Box<dyn Val>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for WithNamespaces<'_> {
    type Value = Box<dyn Val>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Box<dyn Val>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for WithNamespaces<'_> {
    type Value = Box<dyn Val>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("the model's eventhub, an object")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Box<dyn Val>, A::Error> {
        let mut out = self.seed.entries(map)?;
        out.insert(
            self.seed.key("namespaces".into()),
            Box::new(CelList::from(self.namespaces)),
        );
        Ok(Box::new(CelMap::from(out)))
    }
}

/// Reads a JSON array's elements with [`CelSeed`] (a part of the namespaces).
struct Elements<'k>(CelSeed<'k>);

impl<'de> serde::de::DeserializeSeed<'de> for Elements<'_> {
    type Value = Vec<Box<dyn Val>>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Elements<'_> {
    type Value = Vec<Box<dyn Val>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.0.elements(seq)
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for CelSeed<'_> {
    type Value = Box<dyn Val>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Box<dyn Val>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for CelSeed<'_> {
    type Value = Box<dyn Val>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Box<dyn Val>, E> {
        Ok(Box::new(CelBool::from(b)))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Box<dyn Val>, E> {
        Ok(Box::new(CelInt::from(i)))
    }
    fn visit_u64<E>(self, u: u64) -> Result<Box<dyn Val>, E> {
        Ok(match i64::try_from(u) {
            Ok(i) => Box::new(CelInt::from(i)),
            Err(_) => Box::new(CelDouble::from(u as f64)),
        })
    }
    fn visit_f64<E>(self, f: f64) -> Result<Box<dyn Val>, E> {
        Ok(Box::new(CelDouble::from(f)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Box<dyn Val>, E> {
        Ok(Box::new(CelString::from(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Box<dyn Val>, E> {
        Ok(Box::new(CelString::from(s)))
    }
    fn visit_unit<E>(self) -> Result<Box<dyn Val>, E> {
        Ok(Box::new(CelNull))
    }
    fn visit_none<E>(self) -> Result<Box<dyn Val>, E> {
        Ok(Box::new(CelNull))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<Box<dyn Val>, A::Error> {
        Ok(Box::new(CelList::from(self.elements(seq)?)))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Box<dyn Val>, A::Error> {
        Ok(Box::new(CelMap::from(self.entries(map)?)))
    }
}

impl CelSeed<'_> {
    fn elements<'de, A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<Vec<Box<dyn Val>>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(out)
    }

    /// An object's entries, leaving out the keys named in `skip`.
    fn entries<'de, A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<HashMap<CelMapKey<'static>, Box<dyn Val>>, A::Error> {
        let mut out = HashMap::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(k) = map.next_key::<String>()? {
            if self.skip.contains(&k.as_str()) {
                map.next_value::<serde::de::IgnoredAny>()?;
                continue;
            }
            let v = map.next_value_seed(self)?;
            out.insert(self.key(k), v);
        }
        Ok(out)
    }
}

fn to_json(v: &Value) -> Json {
    sort_keys(v.json().unwrap_or(Json::Null))
}

/// CEL maps are hash maps, so their iteration order changes from run to run; observed values
/// and messages built from map literals are given a fixed (sorted) key order to keep results,
/// reports and snapshots reproducible.
fn sort_keys(j: Json) -> Json {
    match j {
        Json::Object(o) => {
            let mut entries: Vec<(String, Json)> = o.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Json::Array(a) => Json::Array(a.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// The model as CEL variables, built once per audit.
pub struct Scope {
    /// Converting the model into CEL's value types is the costly part, so it is done once and
    /// every check evaluates in (a child scope of) this one context.
    ctx: Context<'static, 'static>,
    evidence: std::collections::BTreeMap<String, KindState>,
}

/// Model fields that only the reports read (a namespace's hourly metrics, 96 points for each
/// namespace). They are left out of the CEL scope unless a check's expressions name them, which
/// on a large tenant is most of the scope's size.
pub const REPORT_ONLY_FIELDS: &[&str] = &["hourly"];

/// The [`REPORT_ONLY_FIELDS`] that none of these checks' expressions names.
pub fn report_only_unread<'c>(checks: impl IntoIterator<Item = &'c Check>) -> Vec<&'static str> {
    let checks: Vec<&Check> = checks.into_iter().collect();
    REPORT_ONLY_FIELDS
        .iter()
        .copied()
        .filter(|f| {
            !checks
                .iter()
                .any(|c| c.expressions().any(|e| e.contains(f)))
        })
        .collect()
}

impl Scope {
    /// The whole model as CEL variables.
    pub fn new(model: &Model) -> Scope {
        Scope::without(model, &[])
    }

    /// The model as CEL variables for these checks: the [`REPORT_ONLY_FIELDS`] that none of
    /// them names are left out.
    pub fn for_checks<'c>(model: &Model, checks: impl IntoIterator<Item = &'c Check>) -> Scope {
        Scope::without(model, &report_only_unread(checks))
    }

    /// The model as CEL variables, leaving out object keys named in `skip`. The values are
    /// read from the model's JSON text in one pass, with each key string shared: a
    /// `serde_json::Value` tree in between costs several times the text, and on a
    /// 6,000-namespace tenant the scope is the audit's largest allocation.
    fn without(model: &Model, skip: &[&str]) -> Scope {
        let piped = model.eventhub.namespaces.len() >= PIPE_FROM_NAMESPACES;
        let value = read_model(model, skip, piped);
        let mut ctx = Context::with_env(env());
        for (name, v) in value {
            ctx.add_variable_as_val(name, v);
        }
        Scope {
            ctx,
            evidence: model.evidence.clone(),
        }
    }

    fn state(&self, kind: &str) -> KindState {
        self.evidence.get(kind).cloned().unwrap_or(KindState {
            status: EvidenceStatus::NotCollected,
            reason: Some("not in the bundle".into()),
            files: vec![],
        })
    }
}

/// The engine's verdict on one check, before attestations and waivers.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub reason: Option<String>,
    pub findings: Vec<Finding>,
}

fn describe(v: &Value) -> String {
    let j = to_json(v);
    let s = j.to_string();
    if s.len() > 120 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(117).map(|(i, _)| i).unwrap_or(s.len())]
        )
    } else {
        s
    }
}

/// Turns CEL's errors into what they mean for an auditor: a fact the evidence does not hold.
/// The interpreter's own wording (operator names, value dumps) never reaches a finding.
fn plain_error(e: &cel::ExecutionError) -> String {
    let text = e.to_string();
    if let Some(key) = text.strip_prefix("No such key: ") {
        let key: String = key
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        format!("the evidence has no `{key}`")
    } else if text.contains("null") || text.contains("Null") {
        "a fact it needs is unknown in the evidence (null)".to_string()
    } else {
        "a fact it needs is missing from the evidence or of an unexpected kind".to_string()
    }
}

/// A `not_assessed` sentence: why, in plain words, then the requirement that could not be
/// judged. The check's failure message is not used: it would claim what was not observed.
fn unknown_because(check: &Check, why: String) -> String {
    format!("cannot tell whether this holds ({why}): {}", check.title)
}

fn not_assessed(reason: String) -> Outcome {
    Outcome {
        status: Status::NotAssessed,
        reason: Some(reason),
        findings: vec![],
    }
}

/// Why evidence kinds are unusable, or `None` when all are usable.
pub fn evidence_gap(check: &Check, scope: &Scope) -> Option<String> {
    let mut gaps = Vec::new();
    for k in &check.evidence {
        let st = scope.state(k);
        if !st.status.is_usable() {
            let needs = kinds::kind(k).map(|k| k.permission).unwrap_or("-");
            let why = st.reason.unwrap_or_default();
            let mut line = format!("evidence `{k}` is {}", st.status.as_str());
            if !why.is_empty() {
                line.push_str(&format!(" ({why})"));
            }
            if matches!(st.status, EvidenceStatus::Forbidden) {
                line.push_str(&format!("; the collector needs: {needs}"));
            }
            if matches!(st.status, EvidenceStatus::NotCollected) && k == "probe.network" {
                line.push_str("; run `siemproof probe` on the SIEM collector host");
            }
            gaps.push(line);
        }
    }
    if gaps.is_empty() {
        None
    } else {
        Some(gaps.join("; "))
    }
}

/// Evaluates one check's logic. Manual checks are resolved by the caller with attestations; for
/// them this evaluates only the corroborating assertion, if any.
pub fn evaluate(check: &Check, c: &Compiled, scope: &Scope) -> Outcome {
    let ctx = &scope.ctx;
    if let Some(p) = &c.applies {
        match p.execute(ctx) {
            Ok(Value::Bool(true)) => {}
            Ok(Value::Bool(false)) => {
                return Outcome {
                    status: Status::NotApplicable,
                    reason: check.not_applicable.clone(),
                    findings: vec![],
                }
            }
            Ok(other) => {
                let gap = evidence_gap(check, scope)
                    .map(|g| format!("; {g}"))
                    .unwrap_or_default();
                return not_assessed(format!(
                    "cannot tell whether the check applies: `applies` returned {}{gap}",
                    describe(&other)
                ));
            }
            Err(e) => {
                let gap = evidence_gap(check, scope)
                    .map(|g| format!("; {g}"))
                    .unwrap_or_default();
                return not_assessed(format!(
                    "cannot tell whether the check applies: {}{gap}",
                    plain_error(&e)
                ));
            }
        }
    }
    if let Some(gap) = evidence_gap(check, scope) {
        return not_assessed(gap);
    }
    let Some(assert) = &c.assert else {
        return Outcome {
            status: Status::Manual,
            reason: None,
            findings: vec![],
        };
    };
    let items: Vec<Option<Value>> = match &c.each {
        None => vec![None],
        Some(p) => match p.execute(ctx) {
            Ok(Value::List(l)) => l.iter().cloned().map(Some).collect(),
            // An unknown list is not an empty one: never let it reach `on_empty = "pass"`.
            Ok(Value::Null) => {
                return not_assessed("`each` is unknown in the evidence (null)".to_string())
            }
            Ok(other) => {
                return not_assessed(format!("`each` returned {}, not a list", describe(&other)))
            }
            Err(e) => {
                return not_assessed(format!(
                    "cannot list the resources to assess: {}",
                    plain_error(&e)
                ))
            }
        },
    };
    if items.is_empty() {
        let mut reason = Some("no resources to assess (`each` is empty)".to_string());
        // An empty list passes only when every kind it came from was read completely: a list
        // the API said is absent (404) cannot show that nothing bad is in it.
        let incomplete: Vec<String> = check
            .evidence
            .iter()
            .filter(|k| scope.state(k).status != EvidenceStatus::Ok)
            .map(|k| format!("`{k}` is {}", scope.state(k).status.as_str()))
            .collect();
        let status = match check.on_empty {
            OnEmpty::Fail => Status::Fail,
            OnEmpty::Pass if incomplete.is_empty() => Status::Pass,
            OnEmpty::Pass => {
                reason = Some(format!(
                    "no resources to assess, and the evidence cannot show the list is complete ({})",
                    incomplete.join(", ")
                ));
                Status::NotAssessed
            }
            OnEmpty::NotApplicable => {
                if let Some(why) = &check.empty {
                    reason = Some(why.clone());
                }
                Status::NotApplicable
            }
            OnEmpty::NotAssessed => Status::NotAssessed,
        };
        let findings = if status == Status::Fail {
            vec![Finding {
                resource: "-".into(),
                name: "-".into(),
                status,
                message: "no resources to assess".into(),
                observed: Some(Json::Array(vec![])),
                waiver: None,
            }]
        } else {
            vec![]
        };
        return Outcome {
            status,
            reason,
            findings,
        };
    }
    let mut findings = Vec::with_capacity(items.len());
    for item in items {
        let mut child = ctx.new_inner_scope();
        if let Some(v) = &item {
            child.add_variable_from_value("item", v.clone());
        }
        let eval_str = |p: &Option<Program>, ctx: &Context| -> Option<String> {
            match p.as_ref()?.execute(ctx).ok()? {
                Value::String(s) => Some(s.to_string()),
                Value::Null => None,
                other => Some(to_json(&other).to_string()),
            }
        };
        let name = eval_str(&c.name, &child).unwrap_or_else(|| {
            if item.is_some() {
                "-".into()
            } else {
                "tenant".into()
            }
        });
        let resource = eval_str(&c.resource, &child).unwrap_or_else(|| name.clone());
        let observed = c
            .observed
            .as_ref()
            .map(|p| p.execute(&child).map(|v| to_json(&v)).unwrap_or(Json::Null));
        let (status, message) = match assert.execute(&child) {
            Ok(Value::Bool(true)) => match c.warn.as_ref().map(|w| w.execute(&child)) {
                None | Some(Ok(Value::Bool(false))) => (Status::Pass, "met".to_string()),
                Some(Ok(Value::Bool(true))) => (
                    Status::Warn,
                    eval_str(&c.message, &child).unwrap_or_else(|| check.title.clone()),
                ),
                // A warning that cannot be evaluated is not a pass either: fail closed.
                Some(Ok(other)) => (
                    Status::NotAssessed,
                    format!("`warn` returned {}, not a boolean", describe(&other)),
                ),
                Some(Err(e)) => (Status::NotAssessed, unknown_because(check, plain_error(&e))),
            },
            Ok(Value::Bool(false)) => {
                let st = match check.on_fail {
                    OnFail::Fail => Status::Fail,
                    OnFail::Warn => Status::Warn,
                };
                (
                    st,
                    eval_str(&c.message, &child)
                        .unwrap_or_else(|| format!("not met: {}", check.title)),
                )
            }
            Ok(Value::Null) => (
                Status::NotAssessed,
                unknown_because(
                    check,
                    eval_str(&c.unknown, &child).unwrap_or_else(|| {
                        "a fact it needs is unknown in the evidence (null)".into()
                    }),
                ),
            ),
            Ok(other) => (
                Status::NotAssessed,
                unknown_because(
                    check,
                    format!("the assertion returned {}, not a boolean", describe(&other)),
                ),
            ),
            Err(e) => (Status::NotAssessed, unknown_because(check, plain_error(&e))),
        };
        findings.push(Finding {
            resource,
            name,
            status,
            message,
            observed,
            waiver: None,
        });
    }
    Outcome {
        status: crate::results::aggregate(findings.iter().map(|f| f.status)),
        reason: None,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(expr: &str, model: serde_json::Value) -> Result<Value, String> {
        let env = env();
        let p = env.compile(expr).map_err(|e| e.to_string())?;
        let mut ctx = Context::with_env(env);
        if let Json::Object(o) = model {
            for (k, v) in o {
                ctx.add_variable_from_value(k, to_cel(&v));
            }
        }
        p.execute(&ctx).map_err(|e| e.to_string())
    }

    #[test]
    fn missing_fields_are_errors_not_false() {
        let m = serde_json::json!({"eventhub": {"hub": {"status": "Active"}}});
        assert!(run("eventhub.hub.stat == 'Active'", m.clone()).is_err());
        assert_eq!(
            run("eventhub.hub.status == 'Active'", m).unwrap(),
            Value::Bool(true)
        );
    }

    #[test]
    fn map_literals_serialise_in_a_stable_order() {
        let v = run(
            "{'b': 1, 'a': {'d': 2, 'c': 3}, 'e': [{'g': 1, 'f': 2}]}",
            serde_json::json!({}),
        )
        .unwrap();
        assert_eq!(
            to_json(&v).to_string(),
            r#"{"a":{"c":3,"d":2},"b":1,"e":[{"f":2,"g":1}]}"#
        );
    }

    /// One CEL value as JSON text with sorted keys, ints and floats told apart (`1` and `1.0`),
    /// for comparing values exactly.
    fn exact(v: &Value) -> String {
        to_json(v).to_string()
    }

    fn variables_as_value(vars: Variables) -> Value {
        let map: HashMap<Key, Value> = vars
            .into_iter()
            .map(|(k, v)| {
                (
                    Key::String(Arc::new(k)),
                    Value::try_from(v.as_ref()).unwrap(),
                )
            })
            .collect();
        Value::Map(cel::objects::Map { map: Arc::new(map) })
    }

    /// The scope is read from the model's text by [`CelSeed`] into the interpreter's own
    /// values; they must be exactly what [`to_cel`] gives from a `serde_json::Value` (which the
    /// interpreter would convert), number kinds included.
    #[test]
    fn the_streamed_scope_equals_the_value_conversion() {
        let text = r#"{"a": [1, -2, 3.5, 9223372036854775807, 18446744073709551615, 1e300],
            "b": {"c": null, "d": true, "e": "x\u00e9", "f": {}, "g": []}, "h": [[{"i": 0}]]}"#;
        let keys = std::cell::RefCell::new(HashMap::new());
        let seed = CelSeed {
            keys: &keys,
            skip: &[],
        };
        let streamed: Box<dyn Val> = serde::de::DeserializeSeed::deserialize(
            seed,
            &mut serde_json::Deserializer::from_str(text),
        )
        .unwrap();
        let streamed = Value::try_from(streamed.as_ref()).unwrap();
        let via_value = to_cel(&serde_json::from_str(text).unwrap());
        assert_eq!(exact(&streamed), exact(&via_value));
        assert_eq!(
            exact(&streamed),
            r#"{"a":[1,-2,3.5,9223372036854775807,1.8446744073709552e+19,1e+300],"b":{"c":null,"d":true,"e":"xé","f":{},"g":[]},"h":[[{"i":0}]]}"#
        );
    }

    /// Read in parts with the rest through the pipe, or from one buffer, the model reads into
    /// the same value.
    #[test]
    fn the_piped_model_reads_as_the_buffered_one() {
        let mut model = Model::default();
        model.eventhub.namespaces = (0..300)
            .map(|n| crate::normalize::model::Namespace {
                name: format!("ns-{n}"),
                capacity: Some(n),
                ..Default::default()
            })
            .collect();
        let piped = exact(&variables_as_value(read_model(&model, &["hourly"], true)));
        assert_eq!(
            piped,
            exact(&variables_as_value(read_model(&model, &["hourly"], false)))
        );
        assert_eq!(
            piped,
            exact(&to_cel(&serde_json::to_value(&model).unwrap()))
        );
    }

    /// Keys are shared up to the bound and copied after it; either way they read the same.
    #[test]
    fn shared_keys_are_bounded_and_stable() {
        assert_eq!(shared_key("eventhub"), shared_key("eventhub"));
        assert!(std::ptr::eq(
            shared_key("namespaces").unwrap(),
            shared_key("namespaces").unwrap()
        ));
        let huge = "k".repeat(SHARED_KEY_BYTES + 1);
        assert_eq!(shared_key(&huge), None);
    }

    /// A report-only field is left out of the scope only when no check names it.
    #[test]
    fn report_only_fields_stay_when_a_check_reads_them() {
        let mut model = Model::default();
        model.eventhub.hub = Some(crate::normalize::model::Hub {
            metrics: Some(crate::normalize::model::Metrics {
                hourly: vec![crate::normalize::model::MetricHour::default()],
                ..Default::default()
            }),
            ..Default::default()
        });
        let catalog = crate::catalog::Catalog::load(&[]).unwrap();
        let has_hourly = |scope: &Scope| {
            let p = env().compile("has(eventhub.hub.metrics.hourly)").unwrap();
            p.execute(&scope.ctx).unwrap()
        };
        let checks: Vec<&Check> = catalog.checks.iter().map(|c| &c.check).collect();
        assert!(
            checks
                .iter()
                .all(|c| c.expressions().all(|e| !e.contains("hourly"))),
            "no built-in check reads the hourly points"
        );
        let scope = Scope::for_checks(&model, checks.iter().copied());
        assert_eq!(has_hourly(&scope), Value::Bool(false));
        let mut text = Vec::new();
        scope_text(&mut text, &model, &["hourly"], false).unwrap();
        assert!(!String::from_utf8(text).unwrap().contains("hourly"));
        // Every other serialisation of the model (results, reports) keeps them.
        let json = serde_json::to_value(&model).unwrap();
        assert_eq!(
            json["eventhub"]["hub"]["metrics"]["hourly"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        let mut reader = catalog.checks[0].check.clone();
        reader.assert = Some("size(eventhub.hub.metrics.hourly) > 0".into());
        let scope = Scope::for_checks(&model, checks.iter().copied().chain([&reader]));
        assert_eq!(has_hourly(&scope), Value::Bool(true));
        assert_eq!(has_hourly(&Scope::new(&model)), Value::Bool(true));
    }

    #[test]
    fn integers_compare_with_literals() {
        let m = serde_json::json!({"h": {"p": 4, "r": 3.5}});
        assert_eq!(run("h.p >= 2 && h.r >= 3.0", m).unwrap(), Value::Bool(true));
    }
}
