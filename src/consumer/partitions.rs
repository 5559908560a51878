//! Reading the hub's per-partition runtime state (`amqp.partitions`), read-only.
//!
//! Event Hubs keeps each partition's first and last enqueued sequence numbers and the last
//! enqueued time; ARM does not expose them and the namespace REST path needs Manage
//! (consumer-health.md §5). The read-only path is the AMQP `$management` node: siemproof opens
//! Microsoft's own [`ConsumerClient`] and calls only `get_eventhub_properties` and
//! `get_partition_properties`, which authorise the `$management` link through `$cbs` with an
//! Entra token for Event Hubs (the Azure Event Hubs Data Receiver role) and send READ requests.
//! No receiver link is opened, so no epoch is taken, the SIEM's reader is never displaced and
//! no checkpoint is written (§5.4); `tests/collect.rs` proves it against an AMQP listener that
//! records every link attached.
//!
//! The answer is kept as the service's own map keys (`begin_sequence_number`,
//! `last_enqueued_sequence_number`, `last_enqueued_time_utc`, …) in one JSON file per hub. One
//! partition that cannot be read makes the whole listing a failure: a partial view never counts.

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_messaging_eventhubs::{ConsumerClient, RetryOptions};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use crate::collect::paging::Record;
use crate::evidence::ItemError;

pub const KIND: &str = "amqp.partitions";

/// Partitions read at most: Event Hubs allows up to 2048 per hub on Dedicated.
const MAX_PARTITIONS: usize = 4096;

/// Where and what to read.
pub struct Target<'a> {
    /// `<namespace>.<eventhub_suffix>`.
    pub fqdn: String,
    pub namespace: &'a str,
    pub hub: &'a str,
    /// `[endpoints] eventhub_amqp`, the connection's address when not the namespace itself.
    pub endpoint: Option<&'a str>,
    /// The deadline of each step (connecting, each READ with its retries).
    pub deadline: Duration,
}

fn rfc3339(t: std::time::SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Why a read failed, as a manifest error and the status the service gave, if any.
fn failure(e: &azure_messaging_eventhubs::EventHubsError, what: &str) -> (Option<u16>, ItemError) {
    use azure_core_amqp::error::AmqpErrorKind;
    use azure_messaging_eventhubs::error::ErrorKind;
    let (status, description) = match &e.kind {
        ErrorKind::AmqpError(a) => match a.kind() {
            AmqpErrorKind::ManagementStatusCode(code, d) => (Some(u16::from(*code)), d.clone()),
            _ => (None, None),
        },
        _ => (None, None),
    };
    let code = match (status, &e.kind) {
        (Some(401 | 403), _) => "Unauthorized",
        (Some(404), _) => "NotFound",
        (Some(_), _) => "ManagementError",
        (None, ErrorKind::InvalidManagementResponse) => "MalformedResponse",
        (None, _) => "AmqpError",
    };
    // The service's description is plain text ("Unauthorized access. 'Listen' claim(s) are
    // required …"); redaction still runs, as on every message kept.
    let message = match description {
        Some(d) => format!("{what}: {d}"),
        None => format!("{what}: {e}"),
    };
    let message = crate::redact::text(&message).into_owned();
    (
        status,
        ItemError {
            code: code.into(),
            message,
        },
    )
}

/// Reads the hub's properties and every partition's, as one evidence record.
pub async fn collect(t: &Target<'_>, credential: Arc<dyn TokenCredential>) -> Record {
    let url = format!("amqps://{}/{}/$management", t.fqdn, t.hub);
    let started = Utc::now();
    let mut record = Record {
        kind: KIND,
        plane: "amqp",
        scope: Some(format!("{}/{}", t.namespace, t.hub)),
        page: 0,
        paged: false,
        url,
        fetched_at: started,
        status: None,
        body: None,
        error: None,
        headers: Default::default(),
        request_body: None,
    };
    match read(t, credential).await {
        Ok(body) => {
            record.status = Some(200);
            record.body = Some(serde_json::to_vec_pretty(&body).expect("JSON values serialise"));
        }
        Err((status, e)) => {
            record.status = status;
            record.error = Some(e);
        }
    }
    record
}

type Failure = (Option<u16>, ItemError);

/// One step of the exchange under the step deadline.
async fn step<T>(
    t: &Target<'_>,
    what: &str,
    f: impl std::future::Future<Output = azure_messaging_eventhubs::Result<T>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(t.deadline, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(failure(&e, what)),
        Err(_) => Err((
            None,
            ItemError {
                code: "Timeout".into(),
                message: format!("{what}: no answer within {} s", t.deadline.as_secs()),
            },
        )),
    }
}

async fn read(
    t: &Target<'_>,
    credential: Arc<dyn TokenCredential>,
) -> Result<serde_json::Value, Failure> {
    // Few, short retries (busy, timeouts, 5xx): each step has its own deadline, and 401/404
    // are final.
    let retry = RetryOptions {
        initial_delay: azure_core::time::Duration::milliseconds(200),
        max_delay: azure_core::time::Duration::seconds(5),
        max_total_elapsed: azure_core::time::Duration::seconds(20),
        max_retries: 3,
    };
    let mut builder = ConsumerClient::builder()
        .with_application_id(format!("siemproof/{}", env!("CARGO_PKG_VERSION")))
        .with_retry_options(retry);
    if let Some(e) = t.endpoint {
        builder = builder.with_custom_endpoint(e.to_string());
    }
    let client = step(
        t,
        &format!("cannot connect to {}", t.fqdn),
        builder.open(&t.fqdn, t.hub.to_string(), credential),
    )
    .await?;
    let result = async {
        let hub = step(
            t,
            &format!("READ com.microsoft:eventhub {}", t.hub),
            client.get_eventhub_properties(),
        )
        .await?;
        if hub.partition_ids.len() > MAX_PARTITIONS {
            return Err((
                None,
                ItemError {
                    code: "MalformedResponse".into(),
                    message: format!("the hub names {} partitions", hub.partition_ids.len()),
                },
            ));
        }
        let mut partitions = Vec::with_capacity(hub.partition_ids.len());
        for pid in &hub.partition_ids {
            let p = step(
                t,
                &format!("READ com.microsoft:partition {} partition {pid}", t.hub),
                client.get_partition_properties(pid),
            )
            .await?;
            partitions.push(json!({
                "name": p.eventhub,
                "partition": p.id,
                "begin_sequence_number": p.beginning_sequence_number,
                "last_enqueued_sequence_number": p.last_enqueued_sequence_number,
                "last_enqueued_offset": p.last_enqueued_offset,
                "last_enqueued_time_utc": p.last_enqueued_time_utc.map(rfc3339),
                "is_partition_empty": p.is_empty,
            }));
        }
        Ok(json!({
            "eventhub": {
                "name": hub.name,
                "created_at": hub.created_on.map(rfc3339),
                "partition_ids": hub.partition_ids,
            },
            "partitions": partitions,
        }))
    }
    .await;
    // Closing is courtesy and bounded: the answer stands either way.
    let _ = tokio::time::timeout(Duration::from_secs(5), client.close()).await;
    result
}
