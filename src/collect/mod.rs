//! `siemproof collect`: the read-only online collector that writes an evidence bundle.
//!
//! It resolves the cloud's endpoints, builds the one guarded HTTP client and the credential,
//! runs the plan (what the config names, nothing more) under per-plane limits and retries, and
//! writes every page and every failure into a bundle through [`BundleWriter`], which renames a
//! temporary directory into place only at the end. Ctrl-C drops the temporary directory, so an
//! interrupted run leaves no half-written bundle. A partial collection still writes a valid
//! bundle and reports what is missing and why.

pub mod auth;
pub mod fetch;
pub mod http;
pub mod pace;
pub mod paging;
pub mod plan;
pub mod progress;
pub mod retry;
pub mod stats;
pub mod urlfill;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use chrono::Utc;

use crate::cloud::{origin, CloudEndpoints};
use crate::config::Config;
use crate::evidence::manifest::{Collector, Item, Manifest, Tool, FORMAT};
use crate::evidence::writer::BundleWriter;
use auth::{AuthKind, Tokens};
use fetch::Ctx;
use retry::{Counters, Limits, RetryPolicy};

/// Everything `collect` needs besides the environment's credentials.
/// Which sides a collection reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Only {
    /// Microsoft (ARM, Graph, Management Activity API) and every `[[siem]]` target.
    #[default]
    All,
    /// The Microsoft planes only.
    Microsoft,
    /// The `[[siem]]` targets only: no Microsoft credential is needed or used.
    Siem,
}

#[derive(Debug, Clone)]
pub struct CollectOptions {
    pub config: PathBuf,
    pub out: PathBuf,
    pub auth: AuthKind,
    /// Extra CA (PEM); defaults to the config's `endpoints.ca_bundle`.
    pub ca_bundle: Option<PathBuf>,
    pub verbose: bool,
    pub progress: bool,
    pub concurrency: usize,
    pub page_limit: u32,
    pub only_configured_namespace: bool,
    pub retry: RetryPolicy,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Replace an earlier bundle at `out` (kept until the new one is complete).
    pub force: bool,
    /// Sign the manifest (`manifest.json.minisig`) with this key.
    pub sign: Option<crate::sign::keys::HeldKey>,
    /// The collection clock; `None` is now.
    pub clock: Option<chrono::DateTime<Utc>>,
    /// How long each SIEM target may take in all.
    pub siem_deadline: Duration,
    /// Which sides to read (`collect --only`).
    pub only: Only,
    /// The pacer to keep Microsoft's rate limits with; `None` makes one with the documented
    /// figures. A fleet passes one pacer to all its tenants.
    pub pacer: Option<Arc<pace::Pacer>>,
    /// The credential's parts; `None` takes them from the environment as `--auth` says (a fleet
    /// gives each tenant its own, since one process environment cannot serve every tenant).
    pub credential: Option<auth::CredentialSource>,
    /// Requests in flight to Microsoft shared with the other tenants of a fleet.
    pub fleet_in_flight: Option<Arc<tokio::sync::Semaphore>>,
    /// How namespace metrics are read (`--metrics`): batched where the cloud allows, by default.
    pub metrics: plan::MetricsRead,
}

impl CollectOptions {
    pub fn new(config: PathBuf, out: PathBuf) -> CollectOptions {
        CollectOptions {
            config,
            out,
            auth: AuthKind::Default,
            ca_bundle: None,
            verbose: false,
            progress: false,
            concurrency: 16,
            page_limit: 1000,
            only_configured_namespace: false,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(60),
            force: false,
            sign: None,
            clock: None,
            siem_deadline: Duration::from_secs(60),
            only: Only::All,
            pacer: None,
            credential: None,
            fleet_in_flight: None,
            metrics: plan::MetricsRead::Auto,
        }
    }
}

/// What a run did, for the summary and for benchmarks.
#[derive(Debug, Clone)]
pub struct Summary {
    pub bundle: PathBuf,
    pub items: usize,
    pub failures: Vec<String>,
    /// Requests, throttling and waits per plane, for the planes that sent anything.
    pub planes: Vec<retry::PlaneStats>,
    pub elapsed: Duration,
    /// Requests Microsoft answered (a body, or a definitive status such as 403 or 404).
    pub answered: usize,
    /// Requests that got no usable answer (5xx, throttling, timeouts, transport errors).
    pub unavailable: usize,
}

impl Summary {
    /// Requests sent on every plane, re-sends included.
    pub fn requests(&self) -> u64 {
        self.planes.iter().map(|p| p.requests).sum()
    }

    /// Re-sends on every plane.
    pub fn retries(&self) -> u64 {
        self.planes.iter().map(|p| p.retries).sum()
    }

    /// Throttled answers on every plane.
    pub fn throttled(&self) -> u64 {
        self.planes.iter().map(|p| p.throttled).sum()
    }

    /// The share of requests answered, in percent (100 when there were none).
    pub fn answered_percent(&self) -> f64 {
        let total = self.answered + self.unavailable;
        if total == 0 {
            100.0
        } else {
            self.answered as f64 * 100.0 / total as f64
        }
    }

    /// Whether this collection saw too little to audit (exit 3), and how. One rule for
    /// `collect` and `fleet collect`.
    pub fn shortfall(&self, min_answered: u8) -> Option<Shortfall> {
        let total = self.answered + self.unavailable;
        if total > 0 && self.answered == 0 {
            return Some(Shortfall::Nothing { total });
        }
        let percent = self.answered_percent();
        (percent < f64::from(min_answered)).then_some(Shortfall::TooLittle {
            answered: self.answered,
            total,
            percent,
            min_answered,
        })
    }
}

/// A collection that got too few answers to audit (exit 3). `Display` is the one-line reason
/// that `collect` prints and `fleet collect` records in the tenant's status.
#[derive(Debug, Clone, PartialEq)]
pub enum Shortfall {
    /// No request got an answer (server errors, throttling, timeouts, transport errors).
    Nothing { total: usize },
    /// Fewer than `--min-answered` percent of the requests got one.
    TooLittle {
        answered: usize,
        total: usize,
        percent: f64,
        min_answered: u8,
    },
}

impl Shortfall {
    /// What the shortfall means for the bundle just written.
    pub fn consequence(&self) -> &'static str {
        match self {
            Shortfall::Nothing { .. } => {
                "the bundle records the failures but holds no evidence of the tenant"
            }
            Shortfall::TooLittle { .. } => "most checks will be not_assessed",
        }
    }
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shortfall::Nothing { total } => {
                write!(f, "nothing collected: none of the {total} requests got an answer")
            }
            Shortfall::TooLittle {
                answered,
                total,
                percent,
                min_answered,
            } => write!(
                f,
                "too little collected: {answered} of {total} requests got an answer ({percent:.0}%, below --min-answered {min_answered}%)"
            ),
        }
    }
}

/// Whether a failed request got no usable answer: the evidence says nothing about the tenant.
fn is_unavailable(status: Option<u16>, code: &str) -> bool {
    matches!(status, None | Some(429) | Some(500..=599))
        || matches!(
            code,
            "AF429" | "MalformedJson" | "Timeout" | "TransportError"
        )
}

/// The manifest item's `headers` entry holding the JSON body a POST read sent (the batched
/// metrics read's `{"resourceids":[...]}`), so the audit knows which namespaces a batch, or a
/// failed one, stands for.
pub const REQUEST_BODY_HEADER: &str = "siemproof-request-body";

/// Runs a collection; Ctrl-C or any other terminating signal (SIGTERM, SIGHUP, SIGQUIT,
/// SIGALRM, SIGUSR1, SIGUSR2) aborts it without leaving a bundle behind.
pub fn collect(opts: &CollectOptions) -> Result<Summary> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let signal = crate::signals::terminating()?;
        tokio::select! {
            r = collect_async(opts) => r,
            name = signal => {
                // The in-flight future (and its BundleWriter's temporary directory) is dropped
                // here, which removes the temporary directory: no half-written bundle.
                Err(crate::signals::Interrupted {
                    signal: name,
                    what: format!("no bundle written to {}", opts.out.display()),
                }
                .into())
            }
        }
    })
}

fn resolve_relative(base: &Path, p: &str) -> PathBuf {
    let p = PathBuf::from(p);
    if p.is_absolute() {
        p
    } else {
        base.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// The async body of [`collect`] (tests call it inside their own runtime).
pub async fn collect_async(opts: &CollectOptions) -> Result<Summary> {
    let started = Instant::now();
    // Judge --out before any request: a refused target costs nothing and is not touched.
    let previous = crate::files::check_target(
        &opts.out,
        crate::files::OutputKind::Bundle,
        opts.force,
        "--out",
    )?;
    let unchanged = || crate::files::unchanged_note(&opts.out, previous);
    let config_text = crate::files::read_text_bounded(&opts.config)?;
    let cfg = Config::parse(&config_text, &opts.config.display().to_string())?;
    let ep =
        CloudEndpoints::resolve(&cfg).map_err(|e| anyhow!("{}: {e}", opts.config.display()))?;
    let ca_path = opts.ca_bundle.clone().or_else(|| {
        cfg.endpoints
            .as_ref()
            .and_then(|e| e.ca_bundle.as_deref())
            .map(|p| resolve_relative(&opts.config, p))
    });
    let ca = match &ca_path {
        Some(p) => Some(
            crate::files::read_bounded(p)
                .with_context(|| format!("{}: cannot read the CA bundle", p.display()))?,
        ),
        None => None,
    };
    let mut token_origins = vec![origin(&ep.arm), origin(&ep.graph)];
    token_origins.extend(ep.management_activity.as_deref().map(origin));
    // The checkpoint account's Blob service (List Blobs with a storage token, nothing else).
    token_origins.extend(
        cfg.storage
            .account
            .as_deref()
            .map(|a| origin(&ep.blob_base(a))),
    );
    let http = http::Http::new(
        &ep.authority_host,
        token_origins,
        ca.as_deref(),
        opts.request_timeout,
        opts.verbose,
    )
    .map(|h| h.allow_metrics_batch(ep.metrics_batch.clone()))
    .map_err(|e| match &ca_path {
        Some(p) => anyhow!("{}: {e:#}", p.display()),
        None => e,
    })?;
    let microsoft = opts.only != Only::Siem;
    if !microsoft && cfg.siem.targets.is_empty() {
        bail!(
            "{}: --only siem needs at least one [[siem]] target in the config",
            opts.config.display()
        );
    }
    let cred = if microsoft {
        Some(match &opts.credential {
            Some(src) => auth::credential_from(src, &cfg.tenant.id, &ep.authority_host, &http)?,
            None => auth::credential(opts.auth, &cfg.tenant.id, &ep.authority_host, &http)?,
        })
    } else {
        None
    };
    let counters = Arc::new(Counters::default());
    // The Microsoft side's context exists only when that side is read.
    let ctx = cred.as_ref().map(|c| Ctx {
        http: http.clone(),
        tokens: Tokens::new(c.inner.clone(), c.kind),
        limits: Limits {
            fleet: opts.fleet_in_flight.clone(),
            ..Limits::new(opts.concurrency)
        },
        retry: opts.retry,
        counters: counters.clone(),
        progress: progress::Progress::new(opts.progress),
        pacer: opts
            .pacer
            .clone()
            .unwrap_or_else(|| Arc::new(pace::Pacer::documented(1.0))),
        principal: pace::Principal {
            // Without a client id (the Azure CLI, managed identity by default) the credential
            // is still one principal per run and tenant.
            app: c
                .app_id
                .clone()
                .unwrap_or_else(|| c.kind.manifest_name().into()),
            tenant: cfg.tenant.id.clone(),
        },
    });
    // Fail fast on a credential that does not work at all: one clear error, no bundle.
    if let (Some(cred), Some(ctx)) = (&cred, &ctx) {
        let arm_scope = ep.scope("arm").expect("ARM always has a scope");
        ctx.tokens.get(&arm_scope).await.map_err(|e| {
            anyhow!(
                "authentication failed ({} credential, token for {arm_scope}): {e}",
                cred.kind.manifest_name()
            )
        })?;
    }
    let now = opts.clock.unwrap_or_else(Utc::now);
    let lighthouse = opts
        .credential
        .as_ref()
        .is_some_and(auth::CredentialSource::is_lighthouse);
    let plan_opts = plan::PlanOptions {
        page_limit: opts.page_limit,
        only_configured_namespace: opts.only_configured_namespace,
        now,
        lighthouse,
        metrics: opts.metrics,
    };
    let manifest = Manifest {
        format: FORMAT.into(),
        tool: Tool {
            name: "siemproof".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        tenant_id: cfg.tenant.id.clone(),
        cloud: cfg.tenant.cloud.clone(),
        collected_at: now,
        collector: Collector {
            app_id: cred.as_ref().and_then(|c| c.app_id.clone()),
            auth: match cred.as_ref().map(|c| c.kind.manifest_name()) {
                Some(k) if lighthouse => format!("lighthouse+{k}"),
                Some(k) => k.into(),
                None => "none".into(),
            },
            host: hostname(),
            at: Some(now),
        },
        contributors: vec![],
        items: vec![],
    };
    let mut writer = BundleWriter::new(&opts.out, manifest).with_context(unchanged)?;
    writer
        .add_file(
            Item::local("config", now),
            "siemproof.toml",
            config_text.as_bytes(),
        )
        .with_context(unchanged)?;
    // The SIEM APIs are read side by side with Microsoft's, each on its own deadline.
    let siem_opts = crate::siem::collect::SiemOptions {
        request_timeout: opts.request_timeout,
        retry: opts.retry,
        deadline: opts.siem_deadline,
        verbose: opts.verbose,
        window_hours: cfg.thresholds.freshness_hours.clamp(1, 24 * 30) as u32,
    };
    let no_targets: &[crate::siem::config::SiemTarget] = &[];
    let siem_targets = if opts.only == Only::Microsoft {
        no_targets
    } else {
        &cfg.siem.targets[..]
    };
    let microsoft_side = async {
        match &ctx {
            Some(ctx) => plan::run(ctx, &cfg, &ep, &plan_opts).await,
            None => (Vec::new(), Vec::new()),
        }
    };
    // The hub's partition state, for the consumer checks (which need the checkpoint container):
    // AMQP `$management` READs only, on their own deadline.
    let partitions_side = async {
        let (Some(cred), Some(_)) = (&cred, &cfg.storage.container) else {
            return None;
        };
        if lighthouse {
            // The Event Hubs data plane is not delegated through Lighthouse.
            return None;
        }
        let eh = &cfg.eventhub;
        let target = crate::consumer::partitions::Target {
            fqdn: format!("{}.{}", eh.namespace, ep.eventhub_suffix),
            namespace: &eh.namespace,
            hub: &eh.hub,
            endpoint: ep.eventhub_amqp.as_deref(),
            // Each step may retry a busy answer a few times, so twice a request's timeout.
            deadline: (opts.request_timeout * 2).max(Duration::from_secs(10)),
        };
        Counters::add(&counters.plane("amqp").requests, 1);
        Some(crate::consumer::partitions::collect(&target, cred.inner.clone()).await)
    };
    // After the checkpoint listing, never beside it: sequence numbers only grow, so a
    // checkpoint read first can never be ahead of the hub's last enqueued event.
    let microsoft_side = async {
        let r = microsoft_side.await;
        (r, partitions_side.await)
    };
    let (((mut records, mut skipped), partition_record), siem_records) = tokio::join!(
        microsoft_side,
        crate::siem::collect::collect(siem_targets, siem_opts)
    );
    records.extend(siem_records);
    records.extend(partition_record);
    if let Some(ctx) = &ctx {
        ctx.progress.finish();
    }
    let mut failures = Vec::new();
    let (mut answered, mut unavailable) = (0usize, 0usize);
    for r in records {
        let code = r.error.as_ref().map(|e| e.code.as_str()).unwrap_or("");
        if r.body.is_none() && is_unavailable(r.status, code) {
            unavailable += 1;
        } else {
            answered += 1;
        }
        let mut item = Item {
            scope: r.scope.clone(),
            page: r.paged.then_some(r.page),
            status: r.status,
            error: r.error.clone(),
            headers: {
                let mut h = r.headers.clone();
                // What a POST read asked for (the batch's resource ids) travels with its answer,
                // as the Splunk searches' query does.
                if let Some(b) = &r.request_body {
                    h.insert(REQUEST_BODY_HEADER.into(), b.clone());
                }
                (!h.is_empty()).then_some(h)
            },
            ..Item::get(r.kind, &r.url, r.fetched_at)
        };
        // The opt-in searches and the batched metrics read are the only POSTs and the AMQP management reads are READs; their
        // manifest items say so.
        if let (Some(src), Some(k)) = (item.source.as_mut(), crate::evidence::kinds::kind(r.kind)) {
            if k.method == "POST" || k.method == "READ" {
                src.method = k.method.into();
            }
        }
        match &r.body {
            Some(body) => {
                let path = writer.next_raw_path(r.plane, r.kind);
                let body = if r.kind == "blob.leases" {
                    crate::consumer::layout::without_lease_token(body)
                } else {
                    body.clone()
                };
                let body = &body;
                // Secrets never enter a bundle, not even inside Microsoft's own data.
                writer
                    .add_file(item, &path, &crate::redact::body(body))
                    .with_context(unchanged)?;
            }
            None => {
                let e = r
                    .error
                    .clone()
                    .unwrap_or_else(|| crate::evidence::ItemError {
                        code: "NoResponse".into(),
                        message: "no response".into(),
                    });
                // Say what the audit will make of it, with the same rule the audit uses.
                let consequence = match (crate::evidence::LoadedItem {
                    item: item.clone(),
                    body: None,
                    problem: None,
                    pending: false,
                })
                .status()
                {
                    crate::evidence::EvidenceStatus::NotFound => {
                        "the API says it does not exist: checks judge it as absent"
                    }
                    _ => "checks that read it will be not_assessed",
                };
                failures.push(
                    crate::redact::text(&format!(
                        "{}{}: {}{}: {} ({consequence})",
                        r.kind,
                        r.scope
                            .as_deref()
                            .map(|s| format!(" ({s})"))
                            .unwrap_or_default(),
                        r.status
                            .map(|s| if r.plane == "amqp" {
                                format!("AMQP status {s} ")
                            } else {
                                format!("HTTP {s} ")
                            })
                            .unwrap_or_default(),
                        e.code,
                        e.message
                    ))
                    .into_owned(),
                );
                writer.add_failure(item);
            }
        }
    }
    if lighthouse && cfg.storage.container.is_some() {
        if let Some(why) =
            crate::evidence::kinds::kind("amqp.partitions").and_then(plan::lighthouse_excludes)
        {
            skipped.push(("amqp.partitions".into(), why.into()));
        }
    }
    for (kind, why) in skipped {
        failures.push(format!("{kind}: not collected: {why}"));
    }
    let items = writer.manifest.items.len();
    let bundle = writer
        .finish_signed(Some(now), opts.sign.as_ref().map(|k| &*k.0))
        .with_context(unchanged)?;
    Ok(Summary {
        bundle,
        items,
        failures,
        planes: counters.snapshot(),
        elapsed: started.elapsed(),
        answered,
        unavailable,
    })
}

fn hostname() -> Option<String> {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
}

/// `siemproof permissions`: what the collector needs, per evidence kind, from the kinds table.
pub fn permissions_text() -> String {
    use crate::evidence::kinds::{Plane, KINDS};
    let mut by_plane: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for k in KINDS {
        let title = match k.plane {
            // The batched metrics read is authorised by Azure RBAC like ARM's reads.
            Plane::Arm | Plane::Metrics => "Azure RBAC (assign to the app's service principal)",
            Plane::Graph => "Microsoft Graph application permissions (admin consent)",
            Plane::O365 => "Office 365 Management APIs application permissions (admin consent)",
            Plane::Siem => "SIEM APIs ([[siem]] targets: one read-only credential per SIEM, named by variable or file; docs/siem.md)",
            Plane::Blob => "Azure Storage data plane (assign the data role to the app's service principal on the checkpoint container; docs/consumer.md)",
            Plane::Amqp => "Azure Event Hubs data plane (assign the data role to the app's service principal on the event hub; docs/consumer.md)",
            _ => continue,
        };
        by_plane.entry(title).or_default().push(format!(
            "  {:34} {}\n  {:34} needs: {}\n",
            k.name, k.purpose, "", k.permission
        ));
    }
    let mut s = String::from(
        "siemproof collect reads only (GET; a POST only for the token request, Azure Monitor's batched metrics read (metrics:getBatch) and, with event_counts = true, the SIEM searches; over AMQP only the $management READ). Grant its app registration:\n\n",
    );
    for (title, lines) in by_plane {
        s.push_str(title);
        s.push('\n');
        for l in lines {
            s.push_str(&l);
        }
        s.push('\n');
    }
    s.push_str(
        "In short:\n  Graph: Organization.Read.All, Application.Read.All, Directory.Read.All, AuditLog.Read.All (only with app.method graph/both)\n  Office 365 Management APIs: ActivityFeed.Read (ActivityFeed.ReadDlp for DLP.All)\n  Azure RBAC: Reader on the Event Hub and storage resource groups (Monitoring Reader suffices for metrics),\n              Monitoring Reader on the Event Hub subscription for the batched metrics read (else read per namespace),\n              Reader at scope /providers/Microsoft.aadiam for the Entra diagnostic settings\n  Data plane (with [storage] container): Storage Blob Data Reader on the checkpoint container,\n              Azure Event Hubs Data Receiver on the event hub (AMQP $management READ; no receiver is opened)\nNever grant listKeys rights or write roles: the collector does not use them. See docs/setup.md.\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::Summary;

    fn summary(answered: usize, unavailable: usize) -> Summary {
        Summary {
            bundle: "b".into(),
            items: answered + unavailable,
            failures: vec![],
            planes: vec![],
            elapsed: std::time::Duration::ZERO,
            answered,
            unavailable,
        }
    }

    #[test]
    fn a_collection_that_saw_too_little_is_a_shortfall() {
        let none = summary(0, 7).shortfall(50).expect("nothing answered");
        assert_eq!(none, super::Shortfall::Nothing { total: 7 });
        let none = none.to_string();
        assert!(
            none.starts_with("nothing collected: none of the 7"),
            "{none}"
        );
        let little = summary(4, 6).shortfall(50).expect("40 % answered");
        assert!(matches!(
            little,
            super::Shortfall::TooLittle {
                answered: 4,
                total: 10,
                ..
            }
        ));
        let little = little.to_string();
        assert!(
            little.contains("4 of 10") && little.contains("below --min-answered 50%"),
            "{little}"
        );
        assert_eq!(summary(5, 5).shortfall(50), None, "50 % is enough at 50");
        assert_eq!(summary(0, 0).shortfall(50), None, "no request planned");
        // With --min-answered 0 only "nothing answered" is a shortfall.
        assert_eq!(summary(1, 99).shortfall(0), None);
        assert!(summary(0, 1).shortfall(0).is_some());
    }
}
