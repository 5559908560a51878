//! The mock Event Hubs namespace over AMQP 1.0 on TLS: the `$cbs` put-token and the
//! `$management` READs of `com.microsoft:eventhub` and `com.microsoft:partition`, answered from
//! the fixture tenant's `amqp.partitions` evidence in the service's own map keys and AMQP types
//! (consumer-health.md §5.2; the keys the Azure SDKs read, `last_enqueued_sequence_number_epoch`
//! included, which the Rust client requires).
//!
//! It is fe2o3-amqp in its listener role, the stack the client uses: TLS first (the client's
//! `alt_tls_establishment`), then SASL ANONYMOUS, then sessions and links. Every link a client
//! attaches is recorded with its role and addresses, so a test proves that the collector opened
//! only the two request/response node pairs and never a receiver on a partition.
//! A put-token must carry a token the mock issued for the Event Hubs scope, and a READ a token
//! that was put, else the answer is 401 as the service gives it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fe2o3_amqp::acceptor::{
    ConnectionAcceptor, LinkAcceptor, LinkEndpoint, SaslAnonymousMechanism, SessionAcceptor,
};
use fe2o3_amqp::link::{Receiver, Sender};
use fe2o3_amqp::types::messaging::{
    AmqpValue, ApplicationProperties, Body, Message, MessageId, Properties, TargetArchetype,
};
use fe2o3_amqp::types::performatives::Attach;
use fe2o3_amqp::types::primitives::{Array, OrderedMap, SimpleValue, Timestamp, Value};
use serde_json::Value as Json;

use super::State;

/// One link as a client attached it.
#[derive(Debug, Clone)]
pub struct SeenLink {
    /// The client's role: `sender` (it sends requests) or `receiver`.
    pub role: String,
    pub source: Option<String>,
    pub target: Option<String>,
}

/// The AMQP side's shared record.
#[derive(Default)]
pub struct AmqpLog {
    pub links: Mutex<Vec<SeenLink>>,
    /// Tokens put through `$cbs`, with the audience they were put for.
    pub put_tokens: Mutex<Vec<(String, String)>>,
    /// Every `$management` request: (operation, type, partition).
    pub reads: Mutex<Vec<(String, String, Option<String>)>>,
}

fn address(attach: &Attach) -> (Option<String>, Option<String>) {
    let source = attach.source.as_ref().and_then(|s| s.address.clone());
    let target = attach.target.as_ref().and_then(|t| match t.as_ref() {
        TargetArchetype::Target(t) => t.address.clone(),
        #[allow(unreachable_patterns)]
        _ => None,
    });
    (source, target)
}

/// Serves AMQP connections until the runtime stops. Each connection, session and link is its
/// own task; every wait is bounded.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    st: Arc<State>,
) {
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (tls, st) = (tls.clone(), st.clone());
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(10), tls.accept(tcp)).await
            else {
                return;
            };
            let acceptor = ConnectionAcceptor::builder()
                .container_id("siemproof-mock-eventhubs")
                .sasl_acceptor(SaslAnonymousMechanism::new())
                .build();
            let Ok(Ok(mut conn)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
            else {
                return;
            };
            let sessions = SessionAcceptor::new();
            while let Ok(session) = sessions.accept(&mut conn).await {
                tokio::spawn(serve_session(session, st.clone()));
            }
            let _ = conn.close().await;
        });
    }
}

/// Per node, the channel to the task that owns the client's reply link.
type Replies =
    Arc<tokio::sync::Mutex<HashMap<String, tokio::sync::mpsc::Sender<Message<AmqpValue<Value>>>>>>;

/// Owns one reply link: sends what it is given, and answers the client's detach (a link is
/// closed by both ends, so a client closing its receiver waits for this side).
async fn reply_link(mut s: Sender, mut rx: tokio::sync::mpsc::Receiver<Message<AmqpValue<Value>>>) {
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(m) => {
                    if s.send(m).await.is_err() {
                        break;
                    }
                }
                None => break,
            },
            _ = s.on_detach() => break,
        }
    }
    let _ = s.close().await;
}

async fn serve_session(mut session: fe2o3_amqp::acceptor::ListenerSessionHandle, st: Arc<State>) {
    let links = LinkAcceptor::new();
    let replies: Replies = Default::default();
    while let Some(attach) = session.next_incoming_attach().await {
        let (source, target) = address(&attach);
        let client_sends = matches!(attach.role, fe2o3_amqp::types::definitions::Role::Sender);
        st.amqp.links.lock().expect("links").push(SeenLink {
            role: if client_sends { "sender" } else { "receiver" }.into(),
            source: source.clone(),
            target: target.clone(),
        });
        match links.accept_incoming_attach(attach, &mut session).await {
            // The client's reply link: the node answers on it.
            Ok(LinkEndpoint::Sender(s)) => {
                let (tx, rx) = tokio::sync::mpsc::channel(16);
                replies.lock().await.insert(source.unwrap_or_default(), tx);
                tokio::spawn(reply_link(s, rx));
            }
            // The client's request link to a node.
            Ok(LinkEndpoint::Receiver(r)) => {
                tokio::spawn(serve_requests(
                    r,
                    target.unwrap_or_default(),
                    replies.clone(),
                    st.clone(),
                ));
            }
            Err(_) => break,
        }
    }
    let _ = session.end().await;
}

fn status(code: i32, description: &str) -> ApplicationProperties {
    let mut m = OrderedMap::new();
    m.insert("status-code".to_string(), SimpleValue::Int(code));
    m.insert(
        "status-description".to_string(),
        SimpleValue::String(description.into()),
    );
    ApplicationProperties(m)
}

fn text(props: &Option<ApplicationProperties>, key: &str) -> Option<String> {
    match props.as_ref()?.0.get(key)? {
        SimpleValue::String(s) => Some(s.clone()),
        SimpleValue::Symbol(s) => Some(s.0.clone()),
        _ => None,
    }
}

async fn serve_requests(mut r: Receiver, node: String, replies: Replies, st: Arc<State>) {
    loop {
        let Ok(delivery) = r.recv::<Body<Value>>().await else {
            break;
        };
        if r.accept(&delivery).await.is_err() {
            break;
        }
        let msg = delivery.into_message();
        let id = msg.properties.as_ref().and_then(|p| p.message_id.clone());
        let (props, body) = match node.as_str() {
            "$cbs" => put_token(&st, &msg.application_properties, &msg.body),
            "$management" => read(&st, &msg.application_properties),
            _ => (
                status(404, "The messaging entity could not be found."),
                Value::Null,
            ),
        };
        let reply = Message::builder()
            .properties(Properties {
                correlation_id: id.or(Some(MessageId::Ulong(0))),
                ..Properties::default()
            })
            .application_properties(props)
            .value(body)
            .build();
        // The reply link is attached just after the request link: wait for it, boundedly.
        let mut sent = false;
        for _ in 0..250 {
            let tx = replies.lock().await.get(&node).cloned();
            if let Some(tx) = tx {
                sent = tx.send(reply.clone()).await.is_ok();
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if !sent {
            break;
        }
    }
    let _ = r.close().await;
}

fn put_token(
    st: &State,
    props: &Option<ApplicationProperties>,
    body: &Body<Value>,
) -> (ApplicationProperties, Value) {
    let token = match body {
        Body::Value(AmqpValue(Value::String(t))) => t.clone(),
        _ => String::new(),
    };
    let audience = text(props, "name").unwrap_or_default();
    let issued = st.token_scopes.lock().expect("scopes").get(&token).cloned();
    match issued.as_deref() {
        Some("https://eventhubs.azure.net/.default") => {
            st.amqp
                .put_tokens
                .lock()
                .expect("tokens")
                .push((token, audience));
            (status(202, "Accepted"), Value::Null)
        }
        _ => (
            status(401, "InvalidIssuer: Token issuer is invalid (mock)."),
            Value::Null,
        ),
    }
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    let mut m = OrderedMap::new();
    for (k, v) in entries {
        m.insert(Value::String(k.into()), v);
    }
    Value::Map(m)
}

fn time(j: &Json) -> Value {
    j.as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| Value::Timestamp(Timestamp::from_milliseconds(t.timestamp_millis())))
        .unwrap_or(Value::Null)
}

fn read(st: &State, props: &Option<ApplicationProperties>) -> (ApplicationProperties, Value) {
    let (op, ty) = (
        text(props, "operation").unwrap_or_default(),
        text(props, "type").unwrap_or_default(),
    );
    let partition = text(props, "partition");
    st.amqp
        .reads
        .lock()
        .expect("reads")
        .push((op.clone(), ty.clone(), partition.clone()));
    let token = text(props, "security_token").unwrap_or_default();
    let put = st
        .amqp
        .put_tokens
        .lock()
        .expect("tokens")
        .iter()
        .any(|(t, _)| *t == token);
    if !put {
        return (
            status(
                401,
                "Unauthorized access. The token was not put through $cbs (mock).",
            ),
            Value::Null,
        );
    }
    if op != "READ" {
        return (
            status(400, "The operation is not supported (mock)."),
            Value::Null,
        );
    }
    // Counted faults as on HTTP (throttling and outages): the management node's 503, which the
    // client retries; `u32::MAX` is an endless outage.
    let f = &st.opts.faults;
    if f.only_kinds.is_empty() || f.only_kinds.iter().any(|k| k == "amqp.partitions") {
        let attempt = {
            let mut a = st.attempts.lock().expect("attempts");
            let n = a
                .entry(format!("amqp:{ty}:{}", partition.as_deref().unwrap_or("-")))
                .or_insert(0);
            *n += 1;
            *n - 1
        };
        if attempt < f.throttle.saturating_add(f.server_error) {
            let m = match &f.data_canary {
                Some(c) => super::leaky_message("The server is busy (mock outage).", c),
                None => "The server is busy (mock outage).".into(),
            };
            return (status(503, &m), Value::Null);
        }
    }
    let Some(entry) = st
        .fixture
        .entries
        .values()
        .find(|e| e.kind == "amqp.partitions")
    else {
        return (
            status(404, "The messaging entity could not be found."),
            Value::Null,
        );
    };
    let denied = st
        .opts
        .faults
        .forbidden_kinds
        .iter()
        .any(|k| k == "amqp.partitions");
    if denied || entry.status == 401 || entry.status == 403 {
        return (
            status(
                401,
                "Unauthorized access. 'Listen' claim(s) are required to perform this operation.",
            ),
            Value::Null,
        );
    }
    if entry.status >= 400 {
        return (status(entry.status as i32, "Error (mock)."), Value::Null);
    }
    let Ok(j) = serde_json::from_slice::<Json>(&entry.body) else {
        return (status(500, "Internal error (mock)."), Value::Null);
    };
    let hub = &j["eventhub"];
    let name = hub["name"].as_str().unwrap_or_default().to_string();
    if text(props, "name").is_none_or(|n| !n.eq_ignore_ascii_case(&name)) {
        return (
            status(404, "The messaging entity could not be found."),
            Value::Null,
        );
    }
    let ids: Vec<String> = hub["partition_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    match ty.as_str() {
        "com.microsoft:eventhub" => (
            status(200, "OK"),
            map(vec![
                ("name", Value::String(name)),
                ("type", Value::String(ty.clone())),
                ("created_at", time(&hub["created_at"])),
                ("partition_count", Value::Int(ids.len() as i32)),
                (
                    "partition_ids",
                    Value::Array(Array(ids.into_iter().map(Value::String).collect())),
                ),
            ]),
        ),
        "com.microsoft:partition" => {
            let p = j["partitions"].as_array().and_then(|ps| {
                ps.iter()
                    .find(|p| p["partition"].as_str() == partition.as_deref())
            });
            let Some(p) = p else {
                return (
                    status(404, "The messaging entity could not be found."),
                    Value::Null,
                );
            };
            let long = |k: &str| Value::Long(p[k].as_i64().unwrap_or_default());
            (
                status(200, "OK"),
                map(vec![
                    ("name", Value::String(name)),
                    ("type", Value::String(ty.clone())),
                    ("partition", Value::String(partition.unwrap_or_default())),
                    ("begin_sequence_number", long("begin_sequence_number")),
                    (
                        "last_enqueued_sequence_number",
                        long("last_enqueued_sequence_number"),
                    ),
                    ("last_enqueued_sequence_number_epoch", Value::Long(0)),
                    (
                        "last_enqueued_offset",
                        Value::String(p["last_enqueued_offset"].as_str().unwrap_or("-1").into()),
                    ),
                    ("last_enqueued_time_utc", time(&p["last_enqueued_time_utc"])),
                    (
                        "is_partition_empty",
                        Value::Bool(p["is_partition_empty"].as_bool().unwrap_or(false)),
                    ),
                ]),
            )
        }
        _ => (
            status(400, "The entity type is not supported (mock)."),
            Value::Null,
        ),
    }
}
