//! The normaliser: raw Microsoft responses in a verified bundle → the normalised [`model::Model`].
//!
//! It is a pure function of the bundle, the config, the attestations and the audit clock. A body
//! whose shape is not what Microsoft documents marks its kind `error` (with the file and JSON
//! path) instead of guessing, so checks that read it are `not_assessed`.

pub mod azure;
pub mod m365;
pub mod metrics;
pub mod model;
pub mod raw;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::config::Config;
use crate::evidence::kinds::{self, Paging};
use crate::evidence::{Body, Bundle, EvidenceError, EvidenceStatus, KindState, LoadedItem};
use crate::parallel::Stream;
use model::Model;

/// How many files a listing iterator takes from the reading threads at once (a batch of
/// listings, at least one listing).
const READ_AHEAD_FILES: usize = 64;

/// How many jobs of files ([`chunked`]) the reading threads run ahead of the normaliser:
/// enough to keep the cores busy, few enough that only a sliver of a large kind (a
/// 6,000-namespace tenant's metrics) is in memory at once: about 1 MB by the manifest's sizes,
/// and at most 256 files whatever they say.
const READ_AHEAD_CHUNKS: usize = 16;

/// A job of files for a reading thread ends once it holds this many bytes (by the manifest's
/// `bytes`, a hint only) or this many files: a job per file costs a thread's wake-up and two
/// channel messages per file, more than reading a small file does.
const CHUNK_BYTES: u64 = 64 * 1024;
const CHUNK_FILES: usize = 16;

/// Evidence handed to the normaliser: the bundle's items by kind and their kind states.
///
/// Bodies are read when a normaliser asks for a kind (one listing, or one batch of listings,
/// at a time) and dropped when it is done with them; for an indexed bundle ([`Bundle::index`])
/// that is also when each file is hashed against the manifest. A file that fails the check is
/// remembered and [`Input::finish`] returns it as the error, so nothing judged on it leaves.
/// Kind states are worked out the first time a kind is touched. Whether a paged kind's
/// listings are complete also needs each chain's last page: a listing learns it from the body
/// it reads anyway, and the kind's state is settled ([`Input::settle`]) when it is asked for,
/// reading only the last pages no listing read.
pub struct Input<'a> {
    bundle: &'a Bundle,
    by_kind: BTreeMap<&'a str, Vec<&'a LoadedItem>>,
    states: RefCell<BTreeMap<String, KindState>>,
    prepared: RefCell<BTreeSet<String>>,
    /// Paged kinds, `ok` so far, whose chains' last pages have not all been checked for a
    /// further page ([`Input::settle`]).
    unsettled: RefCell<BTreeSet<String>>,
    /// Whether each item's file (by its place in the bundle's items) has been read and
    /// verified (each is read once, or twice for the last page of a listing whose kind's state
    /// was asked for before the listing was read).
    read: RefCell<Vec<bool>>,
    /// Whether a listing's last page names a further page, by the item's place, once known.
    next_page: RefCell<Vec<Option<bool>>>,
    /// Each paged kind's items as page chains ([`crate::evidence::chains_of`]), grouped once.
    grouped: RefCell<HashMap<String, Rc<Vec<Vec<&'a LoadedItem>>>>>,
    failure: RefCell<Option<EvidenceError>>,
    pub config: &'a Config,
    pub as_of: DateTime<Utc>,
    /// When the evidence was collected (the manifest's `collected_at`).
    pub collected_at: DateTime<Utc>,
}

impl<'a> Input<'a> {
    pub fn new(bundle: &'a Bundle, config: &'a Config, as_of: DateTime<Utc>) -> Input<'a> {
        let mut by_kind: BTreeMap<&'a str, Vec<&'a LoadedItem>> = BTreeMap::new();
        for it in &bundle.items {
            by_kind.entry(it.item.kind.as_str()).or_default().push(it);
        }
        Input {
            bundle,
            by_kind,
            states: RefCell::new(BTreeMap::new()),
            prepared: RefCell::new(BTreeSet::new()),
            unsettled: RefCell::new(BTreeSet::new()),
            read: RefCell::new(vec![false; bundle.items.len()]),
            next_page: RefCell::new(vec![None; bundle.items.len()]),
            grouped: RefCell::new(HashMap::new()),
            failure: RefCell::new(None),
            config,
            as_of,
            collected_at: bundle.manifest.collected_at,
        }
    }

    fn of(&self, kind: &str) -> &[&'a LoadedItem] {
        self.by_kind.get(kind).map_or(&[], Vec::as_slice)
    }

    /// Where an item stands in the bundle's items (every item handed out comes from there).
    fn place(&self, it: &LoadedItem) -> Option<usize> {
        let base = self.bundle.items.as_ptr() as usize;
        let at = (std::ptr::from_ref(it) as usize).wrapping_sub(base)
            / std::mem::size_of::<LoadedItem>().max(1);
        self.bundle
            .items
            .get(at)
            .filter(|x| std::ptr::eq(*x, it))
            .map(|_| at)
    }

    /// A kind's items as page chains, grouped the first time they are asked for.
    fn grouped(&self, kind: &str) -> Rc<Vec<Vec<&'a LoadedItem>>> {
        if let Some(g) = self.grouped.borrow().get(kind) {
            return Rc::clone(g);
        }
        let g = Rc::new(crate::evidence::chains_of(self.of(kind)));
        self.grouped
            .borrow_mut()
            .insert(kind.to_string(), Rc::clone(&g));
        g
    }

    /// Keeps the first evidence error; [`Input::finish`] returns it.
    fn fail(&self, e: EvidenceError) {
        self.failure.borrow_mut().get_or_insert(e);
    }

    /// Reads the bodies of `items` (those not loaded yet on all cores), in order. A file that
    /// cannot be read or verified gives `None` and fails the audit.
    fn load(&self, items: &[&'a LoadedItem]) -> Vec<Option<Cow<'a, Body>>> {
        let mut reads = self.stream(items, parsed_body());
        self.take(items, &mut reads)
            .into_iter()
            .map(|g| g.map(Got::into_body))
            .collect()
    }

    /// Starts reading, on the reading threads and a window ahead, the files of `items` whose
    /// body is not in memory already (a bundle loaded whole has them all), in order: each is
    /// hashed against the manifest, then handed to `read` with its path. Small files go a few
    /// to a job ([`chunked`]), so that handing them out costs less than reading them.
    fn stream<R: Send + 'static>(
        &self,
        items: &[&'a LoadedItem],
        read: Arc<ReadFn<R>>,
    ) -> Reads<R> {
        let root = &self.bundle.root;
        let pending = items
            .iter()
            .filter(|i| i.body.is_none() && i.pending)
            .map(|i| PendingFile {
                path: root.join(i.item.path.as_deref().unwrap_or_default()),
                sha256: i.item.sha256.clone(),
                bytes: i.item.bytes.unwrap_or(0),
            });
        Reads {
            chunks: Stream::new(
                chunked(pending),
                READ_AHEAD_CHUNKS,
                Arc::new(move |files: Vec<PendingFile>| {
                    files
                        .into_iter()
                        .map(|f| {
                            let bytes =
                                crate::evidence::read_verified_as(&f.path, f.sha256.as_deref())?;
                            read(&f.path, bytes)
                        })
                        .collect()
                }),
            ),
            ready: Vec::new().into_iter(),
        }
    }

    /// The bodies of `items`, in order: those in memory as they are, the others taken from
    /// `reads` (started by [`Input::stream`] on these items, or on a list they begin). Whatever
    /// could not be verified fails the audit and gives `None`.
    fn take<R: Send + 'static>(
        &self,
        items: &[&'a LoadedItem],
        reads: &mut Reads<R>,
    ) -> Vec<Option<Got<'a, R>>> {
        let mut out = Vec::with_capacity(items.len());
        for it in items {
            out.push(match &it.body {
                Some(b) => Some(Got::Loaded(b)),
                None if it.pending => {
                    if let Some(at) = self.place(it) {
                        self.read.borrow_mut()[at] = true;
                    }
                    match reads.next().expect("one read per pending item") {
                        Ok(r) => Some(Got::Read(r)),
                        Err(e) => {
                            self.fail(e);
                            None
                        }
                    }
                }
                None => None,
            });
        }
        out
    }

    /// The body of one item (read now for an indexed bundle).
    pub fn body(&self, item: &'a LoadedItem) -> Option<Cow<'a, Body>> {
        self.load(&[item]).pop().flatten()
    }

    /// Works out a kind's state the first time it is touched, from its items and, for a
    /// paged kind, the pages present. A paged kind whose pages all run in order stays
    /// unsettled: whether each chain's last page names a further page is learned as the
    /// listings read those pages, and [`Input::settle`] finishes the judgement before the state
    /// is read.
    fn prepare(&self, kind: &str) {
        if !self.prepared.borrow_mut().insert(kind.to_string()) {
            return;
        }
        let Some(k) = kinds::kind(kind) else {
            return;
        };
        let items = self.of(kind);
        let mut st = crate::evidence::state_of(items);
        if st.status == EvidenceStatus::Ok && k.paging != Paging::None {
            let chains = self.grouped(kind);
            if crate::evidence::chain_gap_in(k.paging, &chains, |_| false).is_some() {
                // A page is missing: judged now, exactly as settling would (the first broken
                // chain, in order, names the reason).
                if let Some(gap) = self.chain_gap(k.paging, &chains) {
                    st.status = EvidenceStatus::Incomplete;
                    st.reason = Some(gap);
                }
            } else {
                self.unsettled.borrow_mut().insert(kind.to_string());
            }
        }
        self.states
            .borrow_mut()
            .entry(kind.to_string())
            .or_insert(st);
    }

    /// Finishes a kind's state: a paged kind left `ok` by [`Input::prepare`] becomes
    /// `incomplete` when a chain's last page names a further page. The last pages no listing
    /// has read yet are read here. Every reader of kind states settles first.
    fn settle(&self, kind: &str) {
        self.prepare(kind);
        if !self.unsettled.borrow_mut().remove(kind) {
            return;
        }
        let Some(k) = kinds::kind(kind) else {
            return;
        };
        if let Some(gap) = self.chain_gap(k.paging, &self.grouped(kind)) {
            let mut states = self.states.borrow_mut();
            if let Some(st) = states.get_mut(kind) {
                // A kind marked since (malformed, inconsistent) keeps that mark, as it would
                // have overridden `incomplete`.
                if st.status == EvidenceStatus::Ok {
                    st.status = EvidenceStatus::Incomplete;
                    st.reason = Some(gap);
                }
            }
        }
    }

    /// The first gap in a paged kind's chains, reading the last pages not known yet.
    fn chain_gap(&self, paging: Paging, chains: &[Vec<&'a LoadedItem>]) -> Option<String> {
        let ends: Vec<&'a LoadedItem> = chains.iter().filter_map(|c| c.last().copied()).collect();
        self.learn_next_pages(paging, &ends);
        crate::evidence::chain_gap_in(paging, chains, |it| self.names_next(paging, it))
    }

    /// Whether a last page is known to name a further page (`None`: its body was not read).
    fn known_next(&self, it: &LoadedItem) -> Option<bool> {
        it.item.path.as_ref()?;
        self.next_page.borrow()[self.place(it)?]
    }

    /// Remembers what a last page's body says about a further page.
    fn learn_next(&self, paging: Paging, it: &'a LoadedItem, body: Option<&Body>) -> bool {
        let more = crate::evidence::names_next_page(paging, it, body);
        if let (Some(_), Some(at)) = (it.item.path.as_ref(), self.place(it)) {
            self.next_page.borrow_mut()[at] = Some(more);
        }
        more
    }

    /// Reads the given last pages (on all cores) and remembers whether each names a next page.
    fn learn_next_pages(&self, paging: Paging, ends: &[&'a LoadedItem]) {
        if paging == Paging::None {
            return;
        }
        let todo: Vec<&'a LoadedItem> = ends
            .iter()
            .copied()
            .filter(|i| self.known_next(i).is_none())
            .collect();
        for chunk in todo.chunks(READ_AHEAD_FILES * 4) {
            let bodies = self.load(chunk);
            for (it, body) in chunk.iter().zip(bodies) {
                self.learn_next(paging, it, body.as_deref());
            }
        }
    }

    fn names_next(&self, paging: Paging, it: &'a LoadedItem) -> bool {
        self.known_next(it).unwrap_or_else(|| {
            let body = self.body(it);
            self.learn_next(paging, it, body.as_deref())
        })
    }

    /// Usable JSON bodies of a kind, with their items.
    pub fn bodies(&self, kind: &str) -> Vec<(&'a LoadedItem, Cow<'a, Value>)> {
        self.prepare(kind);
        let items: Vec<&'a LoadedItem> = self
            .of(kind)
            .iter()
            .copied()
            .filter(|i| i.status() == EvidenceStatus::Ok)
            .collect();
        let bodies = self.load(&items);
        items
            .into_iter()
            .zip(bodies)
            .filter_map(|(i, b)| Some((i, self.json_body(kind, i, b?)?)))
            .collect()
    }

    /// A body as JSON. Only the Blob service's listings are XML; anywhere else a text body is
    /// not the documented response, and passing over it would look like an empty answer, so
    /// the kind is marked malformed.
    fn json_body(
        &self,
        kind: &str,
        item: &LoadedItem,
        body: Cow<'a, Body>,
    ) -> Option<Cow<'a, Value>> {
        let v = json(body);
        let xml = kinds::kind(kind).is_some_and(|k| k.paging == Paging::NextMarker);
        if v.is_none() && !xml {
            self.malformed(kind, item, "the response is not JSON");
        }
        v
    }

    /// Items of a kind, failed ones included, without their bodies ([`Input::body`] reads one).
    pub fn items(&self, kind: &str) -> Vec<&'a LoadedItem> {
        self.prepare(kind);
        self.of(kind).to_vec()
    }

    /// Status of a kind as a string for model sections.
    pub fn status(&self, kind: &str) -> String {
        self.settle(kind);
        self.states
            .borrow()
            .get(kind)
            .map(|s| s.status.as_str().to_string())
            .unwrap_or_else(|| "not_collected".into())
    }

    /// The combined status of several kinds (the worst wins).
    pub fn status_of(&self, kinds: &[&str]) -> String {
        kinds.iter().for_each(|k| self.settle(k));
        let states = self.states.borrow();
        kinds
            .iter()
            .filter_map(|k| states.get(*k).map(|s| s.status))
            .max()
            .unwrap_or(EvidenceStatus::NotCollected)
            .as_str()
            .to_string()
    }

    pub fn usable(&self, kind: &str) -> bool {
        self.settle(kind);
        self.states
            .borrow()
            .get(kind)
            .is_some_and(|s| s.status.is_usable())
    }

    /// Downgrades a kind to `error` because a body did not have the documented shape.
    pub fn malformed(&self, kind: &str, item: &LoadedItem, message: &str) {
        self.prepare(kind);
        let file = item.item.path.clone().unwrap_or_default();
        let mut states = self.states.borrow_mut();
        let st = states.entry(kind.to_string()).or_insert(KindState {
            status: EvidenceStatus::Error,
            reason: None,
            files: vec![],
        });
        st.status = EvidenceStatus::Error;
        st.reason = Some(format!("{file}: malformed response: {message}"));
    }

    /// Downgrades a kind to `inconsistent`: an item disagrees with the request that returned it.
    /// The item is kept (linked to the parent the request named); the checks that read the kind
    /// are `not_assessed` with this reason, so nothing vanishes silently.
    pub fn inconsistent(&self, kind: &str, item: &LoadedItem, message: &str) {
        self.prepare(kind);
        let file = item.item.path.clone().unwrap_or_default();
        let mut states = self.states.borrow_mut();
        let st = states.entry(kind.to_string()).or_insert(KindState {
            status: EvidenceStatus::Inconsistent,
            reason: None,
            files: vec![],
        });
        if st.status < EvidenceStatus::Inconsistent {
            st.status = EvidenceStatus::Inconsistent;
            st.reason = Some(format!("{file}: {message}"));
        }
    }

    /// The listings of a kind, one per recorded request scope (a namespace's hubs, an account's
    /// containers…), each with the status of its own pages, in scope order. Elements are read
    /// only from a listing whose every page was read and whose page chain is complete. The
    /// bodies are read as the iterator goes, a few listings ahead, and dropped with each
    /// listing.
    pub fn listings<'i>(&'i self, kind: &str) -> Listings<'i, 'a> {
        let queue = self.chains(kind, false);
        Listings {
            input: self,
            kind: kind.to_string(),
            reads: self.stream(&readable(queue.iter()), parsed_body()),
            queue,
            ready: VecDeque::new(),
        }
    }

    /// Like [`Input::listings`], for a kind whose pages are each reduced to a `T` (a metrics
    /// response to its totals) instead of kept as JSON trees. `reader` turns a verified
    /// file's bytes straight into a `T` on the reading threads, or declines (`None`) when it
    /// cannot take the body exactly as the JSON reading would; a declined page, or one already
    /// in memory, is parsed as JSON, checked as a listing page is, and given to `from_json`.
    /// Either way the page is hashed against the manifest first.
    pub fn reduced_listings<'i, T: Send + 'static>(
        &'i self,
        kind: &str,
        reader: fn(&[u8]) -> Option<T>,
        from_json: fn(&Value) -> T,
    ) -> ReducedListings<'i, 'a, T> {
        // A reduced page's body is gone by the time the chain is judged, so its last pages
        // are checked up front.
        let queue = self.chains(kind, true);
        let reduce = Arc::new(move |path: &Path, bytes: Vec<u8>| {
            if crate::evidence::is_json_path(path) {
                if let Some(t) = reader(&bytes) {
                    return Ok(Reduced::Done(t));
                }
            }
            crate::evidence::parse_body(path, bytes).map(Reduced::Body)
        });
        ReducedListings {
            input: self,
            kind: kind.to_string(),
            reads: self.stream(&readable(queue.iter()), reduce),
            queue,
            ready: VecDeque::new(),
            from_json,
        }
    }

    /// A kind's request chains (one per recorded scope, pages in order) with each chain's
    /// status, in scope order. A paged chain whose last pages have not been read is left `ok`
    /// with `ends_unknown` set, for the listing to judge when it reads them, unless `eager`
    /// (then they are read now).
    fn chains(&self, kind: &str, eager: bool) -> VecDeque<Chain<'a>> {
        self.prepare(kind);
        let paging = kinds::kind(kind).map(|k| k.paging);
        // The page chains (by scope, case-insensitively) of one normalised scope: nearly always
        // one, but scopes spelt with and without a trailing slash or query name one resource.
        let chains = self.grouped(kind);
        // In normalised scope order, chains of one scope together in their own order: a
        // stable sort of chains that nearly always are in that order already.
        let mut keyed: Vec<(String, usize)> = chains
            .iter()
            .enumerate()
            .map(|(n, chain)| {
                let key = chain[0]
                    .item
                    .scope
                    .as_deref()
                    .map(raw::norm_id)
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                (key, n)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        let mut queue = VecDeque::new();
        for members in keyed.chunk_by(|a, b| a.0 == b.0) {
            let sub: Cow<'_, [Vec<&'a LoadedItem>]> = match members {
                [(_, one)] => Cow::Borrowed(std::slice::from_ref(&chains[*one])),
                _ => Cow::Owned(members.iter().map(|(_, n)| chains[*n].clone()).collect()),
            };
            let items = if let [one] = &*sub {
                one.clone()
            } else {
                // In the bundle's order (the items' places), then by page.
                let mut all: Vec<&'a LoadedItem> = sub.iter().flatten().copied().collect();
                all.sort_by_key(|i| self.place(i));
                all.sort_by_key(|i| i.item.page.unwrap_or(0));
                all
            };
            let mut status = crate::evidence::worst_status(&items);
            let ends: Vec<&'a LoadedItem> = sub.iter().filter_map(|c| c.last().copied()).collect();
            let mut ends_unknown = false;
            if let Some(p) = paging.filter(|p| status == EvidenceStatus::Ok && *p != Paging::None) {
                let known: Option<Vec<bool>> = ends.iter().map(|e| self.known_next(e)).collect();
                let gap = if crate::evidence::chain_gap_in(p, &sub, |_| false).is_some() {
                    true
                } else if let Some(known) = known {
                    known.contains(&true)
                } else if eager {
                    crate::evidence::chain_gap_in(p, &sub, |it| self.names_next(p, it)).is_some()
                } else {
                    ends_unknown = true;
                    false
                };
                if gap {
                    status = EvidenceStatus::Incomplete;
                }
            }
            queue.push_back(Chain {
                items,
                status,
                ends: if ends_unknown { ends } else { Vec::new() },
            });
        }
        queue
    }

    /// Hashes (and parses) every file that no normaliser read, works out the state of every
    /// kind not asked about, and hands back the kind states, or the first file that failed.
    /// Every listed file is so verified whatever the catalogue reads.
    pub fn finish(&self) -> Result<BTreeMap<String, KindState>, EvidenceError> {
        for k in kinds::KINDS {
            self.settle(k.name);
        }
        let unread: Vec<&'a LoadedItem> = self
            .bundle
            .items
            .iter()
            .enumerate()
            .filter(|(at, i)| {
                i.body.is_none() && i.pending && i.item.path.is_some() && !self.read.borrow()[*at]
            })
            .map(|(_, i)| i)
            .collect();
        for chunk in unread.chunks(READ_AHEAD_FILES * 4) {
            drop(self.load(chunk));
        }
        match self.failure.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(self.states.borrow().clone()),
        }
    }

    /// Marks a child kind that was never collected because it had no parent to be collected for
    /// (no namespace, so no hubs to list) as `ok`: its absence is then complete evidence.
    pub fn vacuous(&self, kind: &str, why: &str) {
        self.prepare(kind);
        let mut states = self.states.borrow_mut();
        let st = states.entry(kind.to_string()).or_insert(KindState {
            status: EvidenceStatus::NotCollected,
            reason: None,
            files: vec![],
        });
        if st.status == EvidenceStatus::NotCollected {
            st.status = EvidenceStatus::Ok;
            st.reason = Some(format!("nothing to collect: {why}"));
        }
    }

    /// Sets a kind's state from the items that stand for it, in place of all its own: the
    /// namespaces' metrics come from batched reads and per-namespace reads together, and a
    /// refused batch whose every namespace was read again one by one stands for nothing.
    pub fn restate(&self, kind: &str, items: &[&'a LoadedItem]) {
        self.prepare(kind);
        self.unsettled.borrow_mut().remove(kind);
        let st = crate::evidence::state_of(items);
        self.states.borrow_mut().insert(kind.to_string(), st);
    }

    /// Carries `from`'s `error` (a body that could not be read as documented) into `kind` when
    /// `kind` stands on `from`'s files and is not already worse, naming where it came from.
    pub fn carry_error(&self, kind: &str, from: &str) {
        self.settle(kind);
        self.settle(from);
        let Some(src) = self.states.borrow().get(from).cloned() else {
            return;
        };
        if src.status != EvidenceStatus::Error {
            return;
        }
        let mut states = self.states.borrow_mut();
        let st = states.entry(kind.to_string()).or_insert(KindState {
            status: EvidenceStatus::NotCollected,
            reason: None,
            files: vec![],
        });
        if src.status > st.status {
            st.status = src.status;
            st.reason = Some(format!(
                "{from} is error ({})",
                src.reason.unwrap_or_default()
            ));
        }
        st.files.extend(src.files);
        st.files.sort();
        st.files.dedup();
    }

    /// Sets a derived kind's state from the kinds it is made of: the worst of them (with its
    /// reason and every file), `not_collected` when there are none.
    pub fn derive(&self, name: &str, from: &[&str]) {
        from.iter().for_each(|k| self.settle(k));
        let mut st = KindState {
            status: EvidenceStatus::NotCollected,
            reason: Some("no [[siem]] target is configured".into()),
            files: vec![],
        };
        let mut why = Vec::new();
        for (n, k) in from.iter().enumerate() {
            let s = self.states.borrow().get(*k).cloned().unwrap_or(KindState {
                status: EvidenceStatus::NotCollected,
                reason: Some("not in the bundle".into()),
                files: vec![],
            });
            if n == 0 || s.status > st.status {
                st.status = s.status;
            }
            // Every unusable part is named: the first failure (a 403) explains the ones after it.
            if s.status != EvidenceStatus::Ok && !why.iter().any(|w: &String| w.starts_with(k)) {
                let mut line = format!("{k} is {}", s.status.as_str());
                if let Some(r) = s.reason {
                    line.push_str(&format!(" ({r})"));
                }
                why.push(line);
            }
            st.files.extend(s.files);
        }
        if !from.is_empty() {
            st.reason = (!why.is_empty()).then(|| why.join("; "));
        }
        st.files.sort();
        st.files.dedup();
        self.prepared.borrow_mut().insert(name.to_string());
        self.states.borrow_mut().insert(name.to_string(), st);
    }

    /// Lists the elements of a list body, marking the kind malformed when it is not a list.
    pub fn list_of<'v>(&self, kind: &str, item: &LoadedItem, body: &'v Value) -> Vec<&'v Value> {
        self.checked_list(kind, item, body).unwrap_or_default()
    }

    /// The elements of a list body, or `None` (and the kind marked malformed) when it is not a
    /// list of objects.
    fn checked_list<'v>(
        &self,
        kind: &str,
        item: &LoadedItem,
        body: &'v Value,
    ) -> Option<Vec<&'v Value>> {
        match raw::list_at(body, kinds::list_key(kind)) {
            Ok(v) => {
                // Every list Microsoft returns holds objects; anything else is not a resource
                // that can be judged, and dropping it would make the list look complete.
                if let Some(i) = v.iter().position(|e| !e.is_object()) {
                    self.malformed(
                        kind,
                        item,
                        &format!("element {i} is {}, not an object", raw::type_name(v[i])),
                    );
                    return None;
                }
                Some(v)
            }
            Err(e) => {
                self.malformed(kind, item, &e);
                None
            }
        }
    }

    /// Marks the kind malformed unless `v` has every key in `keys` (as a non-null value).
    pub fn require(&self, kind: &str, item: &LoadedItem, v: &Value, keys: &[&[&str]]) -> bool {
        for k in keys {
            if matches!(raw::path(v, k), None | Some(Value::Null)) {
                self.malformed(kind, item, &format!("an element lacks `{}`", k.join(".")));
                return false;
            }
        }
        true
    }

    /// Hours from `t` to the audit clock, to a tenth of an hour.
    pub fn hours_since(&self, t: DateTime<Utc>) -> f64 {
        ((self.as_of - t).num_seconds() as f64 / 360.0).round() / 10.0
    }
}

/// The JSON value of a body, if it is JSON.
fn json(b: Cow<'_, Body>) -> Option<Cow<'_, Value>> {
    match b {
        Cow::Borrowed(Body::Json(v)) => Some(Cow::Borrowed(v)),
        Cow::Owned(Body::Json(v)) => Some(Cow::Owned(v)),
        _ => None,
    }
}

/// One request chain's listing: the elements of all its pages, when they could all be read.
/// It owns the bodies it read; they go when it does.
pub struct Listing<'a> {
    /// The resource the request was about (the parent), as recorded by the collector.
    pub scope: Option<String>,
    /// `ok` only when every page was read and the chain is complete.
    pub status: EvidenceStatus,
    /// The pages' JSON bodies, read only when `status` is `ok`, each with whether it is a list
    /// of objects (one that is not has marked its kind malformed).
    pages: Vec<(&'a LoadedItem, Cow<'a, Value>, bool)>,
    list_key: &'static str,
}

impl<'a> Listing<'a> {
    /// Whether the listing can show what exists (and so what does not).
    pub fn complete(&self) -> bool {
        self.status == EvidenceStatus::Ok
    }

    /// The listed elements with the page they came from; empty unless `status` is `ok`.
    pub fn elements(&self) -> Vec<(&'a LoadedItem, &Value)> {
        let mut out = Vec::new();
        for (item, body, listable) in &self.pages {
            if *listable {
                for e in raw::list_at(body, self.list_key).unwrap_or_default() {
                    out.push((*item, e));
                }
            }
        }
        out
    }

    /// The whole bodies (one per page), for responses that are not lists (metrics).
    pub fn bodies(&self) -> Vec<(&'a LoadedItem, &Value)> {
        self.pages.iter().map(|(i, b, _)| (*i, &**b)).collect()
    }
}

/// The listings of one kind, read a few files ahead on all cores ([`Input::listings`]).
pub struct Listings<'i, 'a> {
    input: &'i Input<'a>,
    kind: String,
    /// The pages of every readable chain in `queue`, read ahead.
    reads: Reads<Body>,
    queue: VecDeque<Chain<'a>>,
    ready: VecDeque<Listing<'a>>,
}

impl<'a> Listings<'_, 'a> {
    /// Reads the next listings' bodies, up to [`READ_AHEAD_FILES`] files (at least one listing).
    fn fill(&mut self) {
        let batch = next_batch(&mut self.queue);
        let mut bodies = self
            .input
            .take(&readable(batch.iter()), &mut self.reads)
            .into_iter()
            .map(|g| g.map(Got::into_body));
        let list_key = kinds::list_key(&self.kind);
        let paging = kinds::kind(&self.kind).map_or(Paging::None, |k| k.paging);
        for chain in batch {
            let Chain {
                items,
                mut status,
                ends,
            } = chain;
            let mut pages = Vec::new();
            if status == EvidenceStatus::Ok {
                let read: Vec<_> = items.iter().map(|_| bodies.next().flatten()).collect();
                let mut more = false;
                for (it, body) in items.iter().zip(&read) {
                    if ends.iter().any(|e| std::ptr::eq(*e, *it)) {
                        more |= self.input.learn_next(paging, it, body.as_deref());
                    }
                }
                if more {
                    // Its last page names a page the bundle does not hold: only part of the
                    // list, which cannot show what is absent, so its pages are not read (as
                    // for a chain known to be cut short before it was read).
                    status = EvidenceStatus::Incomplete;
                } else {
                    for (it, body) in items.iter().zip(read) {
                        // A file that failed to load has already failed the audit.
                        let Some(body) = body else {
                            continue;
                        };
                        let Some(v) = self.input.json_body(&self.kind, it, body) else {
                            continue;
                        };
                        let listable = self.input.checked_list(&self.kind, it, &v).is_some();
                        pages.push((*it, v, listable));
                    }
                }
            }
            self.ready.push_back(Listing {
                scope: items[0].item.scope.clone(),
                status,
                pages,
                list_key,
            });
        }
    }
}

/// What a reading thread needs of a listed file: where it is and the hash the manifest gives.
struct PendingFile {
    path: PathBuf,
    sha256: Option<String>,
    /// Its size as the manifest gives it (a hint for [`chunked`]; 0 when not given).
    bytes: u64,
}

/// What a reading thread makes of a verified file's bytes.
type ReadFn<R> = dyn Fn(&Path, Vec<u8>) -> Result<R, EvidenceError> + Send + Sync;

/// Files being read ahead on the reading threads, a job of files at a time ([`Input::stream`]).
struct Reads<R> {
    chunks: Stream<Vec<PendingFile>, Vec<Result<R, EvidenceError>>>,
    /// The rest of the last job's results.
    ready: std::vec::IntoIter<Result<R, EvidenceError>>,
}

impl<R: Send + 'static> Iterator for Reads<R> {
    type Item = Result<R, EvidenceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.ready.next() {
                return Some(r);
            }
            self.ready = self.chunks.next()?.into_iter();
        }
    }
}

/// The files in order, a few to a job: a job ends at [`CHUNK_BYTES`] or [`CHUNK_FILES`].
fn chunked(files: impl Iterator<Item = PendingFile>) -> Vec<Vec<PendingFile>> {
    let mut out: Vec<Vec<PendingFile>> = Vec::new();
    let mut bytes = 0;
    for f in files {
        match out.last_mut() {
            Some(job) if bytes < CHUNK_BYTES && job.len() < CHUNK_FILES => {
                bytes += f.bytes;
                job.push(f);
            }
            _ => {
                bytes = f.bytes;
                out.push(vec![f]);
            }
        }
    }
    out
}

/// Parses a verified file as its body ([`crate::evidence::parse_body`]).
fn parsed_body() -> Arc<ReadFn<Body>> {
    Arc::new(|path: &Path, bytes: Vec<u8>| crate::evidence::parse_body(path, bytes))
}

/// A body as the reading threads hand it over: in memory already, or just read.
enum Got<'a, R> {
    Loaded(&'a Body),
    Read(R),
}

impl<'a> Got<'a, Body> {
    fn into_body(self) -> Cow<'a, Body> {
        match self {
            Got::Loaded(b) => Cow::Borrowed(b),
            Got::Read(b) => Cow::Owned(b),
        }
    }
}

/// A page read for [`Input::reduced_listings`]: reduced on the reading thread, or a body.
enum Reduced<T> {
    Done(T),
    Body(Body),
}

/// One request chain of a kind: its pages in order and its status.
struct Chain<'a> {
    items: Vec<&'a LoadedItem>,
    status: EvidenceStatus,
    /// The last pages of a chain `ok` so far whose further page is judged only when the
    /// listing reads them ([`Input::chains`]); empty when that is settled already.
    ends: Vec<&'a LoadedItem>,
}

/// The next chains to read: up to [`READ_AHEAD_FILES`] files' worth, at least one chain.
fn next_batch<'a>(queue: &mut VecDeque<Chain<'a>>) -> Vec<Chain<'a>> {
    let mut batch = Vec::new();
    let mut files = 0;
    while let Some(g) = queue.pop_front() {
        if g.status == EvidenceStatus::Ok {
            files += g.items.len();
        }
        batch.push(g);
        if files >= READ_AHEAD_FILES {
            break;
        }
    }
    batch
}

/// The pages of a batch's complete chains, the only ones whose bodies are read.
fn readable<'c, 'a: 'c>(chains: impl Iterator<Item = &'c Chain<'a>>) -> Vec<&'a LoadedItem> {
    chains
        .filter(|c| c.status == EvidenceStatus::Ok)
        .flat_map(|c| c.items.iter().copied())
        .collect()
}

/// One request chain's pages, each reduced to a `T` ([`Input::reduced_listings`]).
pub struct ReducedListing<'a, T> {
    /// The resource the request was about, as recorded by the collector.
    pub scope: Option<String>,
    /// `ok` only when every page was read and the chain is complete.
    pub status: EvidenceStatus,
    /// The pages that could be read (none unless `status` is `ok`), each with whether it is
    /// a list of objects (one that is not has marked its kind malformed).
    pub pages: Vec<(&'a LoadedItem, T, bool)>,
}

/// The reduced listings of one kind, read a batch at a time on all cores.
pub struct ReducedListings<'i, 'a, T> {
    input: &'i Input<'a>,
    kind: String,
    /// The pages of every readable chain in `queue`, read and reduced ahead.
    reads: Reads<Reduced<T>>,
    queue: VecDeque<Chain<'a>>,
    ready: VecDeque<ReducedListing<'a, T>>,
    from_json: fn(&Value) -> T,
}

impl<'a, T: Send + 'static> ReducedListings<'_, 'a, T> {
    /// Reads and reduces the next batch of chains.
    fn fill(&mut self) {
        let batch = next_batch(&mut self.queue);
        let mut pages = self
            .input
            .take(&readable(batch.iter()), &mut self.reads)
            .into_iter();
        for Chain { items, status, .. } in batch {
            let mut reduced = Vec::new();
            if status == EvidenceStatus::Ok {
                for it in &items {
                    // A file that failed to load has already failed the audit.
                    let body = match pages.next().flatten() {
                        None => continue,
                        Some(Got::Read(Reduced::Done(t))) => {
                            reduced.push((*it, t, true));
                            continue;
                        }
                        Some(Got::Read(Reduced::Body(b))) => Cow::Owned(b),
                        Some(Got::Loaded(b)) => Cow::Borrowed(b),
                    };
                    let Some(v) = self.input.json_body(&self.kind, it, body) else {
                        continue;
                    };
                    let listable = self.input.checked_list(&self.kind, it, &v).is_some();
                    reduced.push((*it, (self.from_json)(&v), listable));
                }
            }
            self.ready.push_back(ReducedListing {
                scope: items[0].item.scope.clone(),
                status,
                pages: reduced,
            });
        }
    }
}

impl<'a, T: Send + 'static> Iterator for ReducedListings<'_, 'a, T> {
    type Item = ReducedListing<'a, T>;

    fn next(&mut self) -> Option<ReducedListing<'a, T>> {
        if self.ready.is_empty() {
            self.fill();
        }
        self.ready.pop_front()
    }
}

impl<'a> Iterator for Listings<'_, 'a> {
    type Item = Listing<'a>;

    fn next(&mut self) -> Option<Listing<'a>> {
        if self.ready.is_empty() {
            self.fill();
        }
        self.ready.pop_front()
    }
}

/// Whether an ARM id lies below `parent` (case-insensitive, normalised). An item with no id
/// cannot disagree with its request, so it is taken as below it.
pub fn is_below(id: &str, parent: &str) -> bool {
    if id.trim().is_empty() {
        return true;
    }
    // `norm_id(id)` starts with `norm_id(parent) + "/"`, ASCII case aside, compared without
    // copying either (it is asked once per listed item).
    let mut id = normalised_bytes(id);
    normalised_bytes(parent)
        .chain(std::iter::once(b'/'))
        .all(|p| id.next().is_some_and(|i| i.eq_ignore_ascii_case(&p)))
}

/// The bytes of [`raw::norm_id`]`(id)`.
fn normalised_bytes(id: &str) -> impl Iterator<Item = u8> + '_ {
    let (slash, id) = raw::norm_id_parts(id);
    slash.bytes().chain(id.bytes())
}

/// Parses Microsoft timestamps: RFC 3339, or without an offset (the Management Activity API
/// returns `2015-06-29T20:03:19.6893588Z` and sometimes no `Z`), which is UTC.
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc())
}

/// Builds the model. `attested` lists check ids with a valid attestation (Defender corroboration
/// and the coverage matrix use them).
/// Fails when a file the model needed (or any other listed file) is missing or altered.
pub fn normalize(
    bundle: &Bundle,
    config: &Config,
    as_of: DateTime<Utc>,
    attested: &[String],
) -> Result<Model, EvidenceError> {
    let input = Input::new(bundle, config, as_of);
    build(&input, attested)
}

fn build(input: &Input<'_>, attested: &[String]) -> Result<Model, EvidenceError> {
    let tenant = m365::tenant(input);
    let eventhub = azure::eventhub(input);
    let storage = azure::storage(input, &eventhub);
    let entra = azure::entra(input, &eventhub);
    let apps = m365::apps(input);
    let o365 = m365::o365(input);
    let graph = m365::graph(input);
    let network = m365::network(input);
    let defender = m365::defender(input, &eventhub, attested);
    let siem = crate::siem::normalize::siem(input);
    let consumer = crate::consumer::normalize::consumer(input, &eventhub);
    let evidence = input.finish()?;
    let mut model = Model {
        as_of: input
            .as_of
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        evidence,
        config: input.config.clone(),
        tenant,
        entra,
        eventhub,
        storage,
        apps,
        o365,
        graph,
        defender,
        network,
        siem,
        consumer,
        coverage: vec![],
    };
    model.coverage = crate::coverage::compute(&model);
    Ok(model)
}

#[cfg(test)]
mod tests {
    /// `is_below` reads ids as `norm_id` normalises them, case aside, without copying them:
    /// the same answers as comparing the normalised, lower-cased copies.
    #[test]
    fn is_below_agrees_with_comparing_normalised_copies() {
        let by_copies = |id: &str, parent: &str| {
            id.trim().is_empty() || {
                let id = super::raw::norm_id(id).to_ascii_lowercase();
                let parent = super::raw::norm_id(parent).to_ascii_lowercase();
                id.starts_with(&format!("{parent}/"))
            }
        };
        let ids = [
            "",
            "  ",
            "/",
            "//",
            "/subscriptions/S/resourceGroups/rg",
            "subscriptions/s/resourcegroups/RG/",
            "/subscriptions/s/resourceGroups/rg/providers/x/ns/a?api-version=1",
            "/SUBSCRIPTIONS/S/RESOURCEGROUPS/RG/PROVIDERS/X/NS/A/",
            "/subscriptions/s/resourceGroups/rg2/providers/x",
            "/subscriptions/s/resourceGroups/rg /x",
            " /subscriptions/s/resourceGroups/rg/x ",
            "//subscriptions/s/resourceGroups/rg/x",
            "/subscriptions/s/resourceGroups/rgé/x",
            "/subscriptions/s/resourceGroups/RGÉ/x",
        ];
        for id in ids {
            for parent in ids {
                assert_eq!(
                    super::is_below(id, parent),
                    by_copies(id, parent),
                    "{id:?} below {parent:?}"
                );
            }
        }
        assert!(super::is_below(
            "/subscriptions/S/resourceGroups/RG/x",
            "subscriptions/s/resourcegroups/rg/"
        ));
        assert!(!super::is_below(
            "/subscriptions/s/resourceGroups/rg2/x",
            "/subscriptions/s/resourceGroups/rg"
        ));
    }
}
