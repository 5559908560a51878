//! The Blob service's List Blobs XML, and the checkpoint layouts SIEM clients write into it.
//!
//! Sources (consumer-health.md): the Azure SDK processor layout `<fqdn>/<hub>/<cg>/checkpoint/<pid>`
//! and `…/ownership/<pid>`, zero-byte blobs whose state is metadata (`sequencenumber`, `offset`,
//! `ownerid`; older Java wrote them mixed-case, so keys match case-insensitively) §1; the Event
//! Processor Host lease layout, one JSON lease blob per partition at `<cg>/<pid>` (Java EPH,
//! whose container is the hub's name: QRadar's "`<hub>` → `<consumer group>`" directory) or at
//! the container root (Go `eph`, Elastic's v1 processor), owned through a real blob lease and
//! the `OWNINGHOST` metadata §2–3.

use chrono::{DateTime, Utc};

/// One blob of a List Blobs answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    pub name: String,
    pub last_modified: Option<DateTime<Utc>>,
    pub content_length: Option<u64>,
    /// `available`, `leased`, `expired`, `breaking`, `broken`.
    pub lease_state: Option<String>,
    /// Metadata, names lower-cased (blob metadata names are case-insensitive on read).
    pub metadata: Vec<(String, String)>,
}

impl Blob {
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// One page of a listing: its blobs and the continuation marker (empty when done).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub blobs: Vec<Blob>,
    pub next_marker: Option<String>,
}

/// Parses an `<EnumerationResults>` page; `Err` names what is wrong.
pub fn parse_page(xml: &str) -> Result<Page, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("not well-formed XML: {e}"))?;
    let root = doc.root_element();
    if !root.has_tag_name("EnumerationResults") {
        return Err(format!(
            "the root element is <{}>, not <EnumerationResults>",
            root.tag_name().name()
        ));
    }
    fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
        n.children().find(|c| c.has_tag_name(name))
    }
    fn text(n: Option<roxmltree::Node<'_, '_>>) -> Option<String> {
        n.and_then(|n| n.text())
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
    }
    let Some(blobs_el) = child(root, "Blobs") else {
        return Err("no <Blobs> element".into());
    };
    let mut blobs = Vec::new();
    for (i, b) in blobs_el.children().filter(|c| c.is_element()).enumerate() {
        if !b.has_tag_name("Blob") {
            // `<BlobPrefix>` appears only with a delimiter, which the collector never sends.
            return Err(format!(
                "element {i} of <Blobs> is <{}>, not <Blob>",
                b.tag_name().name()
            ));
        }
        let Some(name) = text(child(b, "Name")) else {
            return Err(format!("blob {i} has no <Name>"));
        };
        let props = child(b, "Properties");
        let prop = |k: &str| text(props.and_then(|p| child(p, k)));
        let last_modified = match prop("Last-Modified") {
            Some(t) => Some(
                DateTime::parse_from_rfc2822(&t)
                    .map_err(|_| {
                        format!("blob {name}: Last-Modified {t:?} is not an RFC 1123 date")
                    })?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        let metadata = child(b, "Metadata")
            .map(|m| {
                m.children()
                    .filter(|c| c.is_element())
                    .map(|c| {
                        (
                            c.tag_name().name().to_ascii_lowercase(),
                            c.text().unwrap_or_default().trim().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        blobs.push(Blob {
            name,
            last_modified,
            content_length: prop("Content-Length").and_then(|v| v.parse().ok()),
            lease_state: prop("LeaseState").map(|s| s.to_ascii_lowercase()),
            metadata,
        });
    }
    Ok(Page {
        blobs,
        next_marker: text(child(root, "NextMarker")),
    })
}

/// Which layout a blob name belongs to, and the reader and partition it names.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// `<fqdn>/<hub>/<cg>/checkpoint/<pid>`.
    SdkCheckpoint {
        namespace: String,
        hub: String,
        group: String,
        partition: String,
    },
    /// `<fqdn>/<hub>/<cg>/ownership/<pid>`.
    SdkOwnership {
        namespace: String,
        hub: String,
        group: String,
        partition: String,
    },
    /// `<cg>/<pid>` (Java / .NET EPH) or `<pid>` at the root (Go `eph`).
    EphLease {
        group: Option<String>,
        partition: String,
    },
    Unknown,
}

fn is_partition(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.chars().all(|c| c.is_ascii_digit())
}

/// Classifies one blob name.
pub fn classify(name: &str) -> Entry {
    let parts: Vec<&str> = name.split('/').collect();
    match parts.as_slice() {
        [ns, hub, group, kind, pid] if ns.contains('.') && is_partition(pid) => {
            let (namespace, hub, group, partition) = (
                ns.to_string(),
                hub.to_string(),
                group.to_string(),
                pid.to_string(),
            );
            match kind.to_ascii_lowercase().as_str() {
                "checkpoint" => Entry::SdkCheckpoint {
                    namespace,
                    hub,
                    group,
                    partition,
                },
                "ownership" => Entry::SdkOwnership {
                    namespace,
                    hub,
                    group,
                    partition,
                },
                _ => Entry::Unknown,
            }
        }
        [group, pid] if is_partition(pid) && !group.contains('.') => Entry::EphLease {
            group: Some(group.to_string()),
            partition: pid.to_string(),
        },
        [pid] if is_partition(pid) => Entry::EphLease {
            group: None,
            partition: pid.to_string(),
        },
        _ => Entry::Unknown,
    }
}

/// An EPH lease blob's JSON without its `token` (the blob lease id, which lets its holder renew
/// or release the lease): the checkpoint is evidence, the lease's handle is not.
pub fn without_lease_token(body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut m)) => {
            m.retain(|k, _| !k.eq_ignore_ascii_case("token"));
            serde_json::to_vec_pretty(&serde_json::Value::Object(m)).unwrap_or_default()
        }
        _ => body.to_vec(),
    }
}

/// The checkpoint an EPH lease's JSON holds: its sequence number and offset. .NET writes
/// `SequenceNumber`/`Offset`, Java `sequenceNumber`/`offset`, Go `checkpoint.sequenceNumber`
/// (consumer-health.md §2). A lease with no offset has never been checkpointed: no sequence.
pub fn lease_checkpoint(v: &serde_json::Value) -> (Option<i64>, Option<String>) {
    fn get<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
        v.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    }
    let cp = get(v, "checkpoint").filter(|c| c.is_object()).unwrap_or(v);
    let offset = get(cp, "offset")
        .and_then(|o| match o {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .filter(|o| !o.is_empty() && o != "-1" && o != "no offset");
    let seq = get(cp, "sequenceNumber").and_then(|s| match s {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(t) => t.trim().parse().ok(),
        _ => None,
    });
    match offset {
        Some(o) => (seq.filter(|s| *s >= 0), Some(o)),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_layouts() {
        assert!(matches!(
            classify("psiem-namespace.servicebus.windows.net/security-logs-hub/splunk-cg/checkpoint/3"),
            Entry::SdkCheckpoint { ref group, ref partition, .. } if group == "splunk-cg" && partition == "3"
        ));
        assert!(matches!(
            classify("ns.servicebus.windows.net/hub/$Default/ownership/0"),
            Entry::SdkOwnership { .. }
        ));
        assert!(matches!(
            classify("qradar-cg/1"),
            Entry::EphLease { group: Some(ref g), .. } if g == "qradar-cg"
        ));
        assert!(matches!(classify("2"), Entry::EphLease { group: None, .. }));
        assert_eq!(
            classify("ns.servicebus.windows.net/hub/cg/other/0"),
            Entry::Unknown
        );
        assert_eq!(classify("$logs/2026/11/20"), Entry::Unknown);
    }

    #[test]
    fn a_listing_page_is_read_and_keys_fold_case() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="https://a.blob.core.windows.net/" ContainerName="c">
  <MaxResults>5000</MaxResults>
  <Blobs>
    <Blob><Name>ns.servicebus.windows.net/h/cg/checkpoint/0</Name>
      <Properties><Last-Modified>Fri, 20 Nov 2026 07:59:40 GMT</Last-Modified><Content-Length>0</Content-Length><LeaseState>available</LeaseState></Properties>
      <Metadata><SequenceNumber>42</SequenceNumber><offset>8600</offset></Metadata></Blob>
  </Blobs>
  <NextMarker>2!80!MDAwMDE</NextMarker>
</EnumerationResults>"#;
        let p = parse_page(xml).unwrap();
        assert_eq!(p.blobs.len(), 1);
        assert_eq!(p.blobs[0].meta("sequencenumber"), Some("42"));
        assert_eq!(p.next_marker.as_deref(), Some("2!80!MDAwMDE"));
        assert!(parse_page("<Error><Code>x</Code></Error>").is_err());
        assert!(
            parse_page("<EnumerationResults><Blobs><Blob/></Blobs></EnumerationResults>").is_err()
        );
    }

    #[test]
    fn lease_checkpoints_of_each_eph_writer() {
        use serde_json::json;
        // .NET EPH's sample (consumer-health.md §2.1), Java's Gson names, Go's nested checkpoint.
        let net = json!({"PartitionId":"0","Owner":"681d","Token":"2d0c","Epoch":386,"Offset":"8591964920","SequenceNumber":960180});
        assert_eq!(
            lease_checkpoint(&net),
            (Some(960180), Some("8591964920".into()))
        );
        let java = json!({"partitionId":"1","owner":"ec01","epoch":4,"offset":"1372","sequenceNumber":"12"});
        assert_eq!(lease_checkpoint(&java), (Some(12), Some("1372".into())));
        let go = json!({"partitionID":"0","checkpoint":{"offset":"77","sequenceNumber":5,"enqueueTime":"2026-11-20T07:59:00Z"}});
        assert_eq!(lease_checkpoint(&go), (Some(5), Some("77".into())));
        // Never checkpointed: no offset (Java), or Go's start-of-stream "-1".
        let fresh = json!({"partitionId":"2","offset":null,"sequenceNumber":0});
        assert_eq!(lease_checkpoint(&fresh), (None, None));
        let start = json!({"checkpoint":{"offset":"-1","sequenceNumber":0}});
        assert_eq!(lease_checkpoint(&start), (None, None));
        let hostile = json!({"offset":"9","sequenceNumber":-4});
        assert_eq!(lease_checkpoint(&hostile).0, None);
    }

    #[test]
    fn the_lease_token_is_dropped_in_any_case() {
        let body = br#"{"partitionId":"0","Token":"2d0c-lease","token":"x","sequenceNumber":1,"offset":"2"}"#;
        let out = String::from_utf8(without_lease_token(body)).unwrap();
        assert!(!out.to_ascii_lowercase().contains("token"), "{out}");
        assert!(out.contains("sequenceNumber"));
    }
}
