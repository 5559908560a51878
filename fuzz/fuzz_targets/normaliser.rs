//! Fuzzes the normaliser: the input (as JSON, or as text for the XML blob listings) becomes
//! the body of one evidence kind, chosen by the first byte, in an otherwise empty bundle, and
//! is normalised under the init template's config. It must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use siemproof::evidence::kinds::KINDS;
use siemproof::evidence::manifest::{Collector, Item, Manifest, Tool, FORMAT};
use siemproof::evidence::{Body, Bundle, LoadedItem};

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let kind = KINDS[usize::from(*first) % KINDS.len()].name;
    let body = match serde_json::from_slice::<serde_json::Value>(rest) {
        Ok(v) => Body::Json(v),
        Err(_) => Body::Text(String::from_utf8_lossy(rest).into_owned()),
    };
    let at = chrono::DateTime::from_timestamp(1_795_000_000, 0).expect("time");
    let mut item = Item::get(kind, "https://example.invalid/fuzz", at);
    item.path = Some(format!("raw/fuzz/{kind}.json"));
    item.sha256 = Some(String::new());
    let bundle = Bundle {
        root: std::path::PathBuf::from("/nonexistent"),
        manifest: Manifest {
            format: FORMAT.into(),
            tool: Tool {
                name: "fuzz".into(),
                version: "0".into(),
            },
            tenant_id: "11111111-2222-4333-8444-555555555555".into(),
            cloud: "public".into(),
            collected_at: at,
            collector: Collector {
                app_id: None,
                auth: "fixture".into(),
                host: None,
                at: None,
            },
            contributors: vec![],
            items: vec![item.clone()],
        },
        manifest_sha256: String::new(),
        items: vec![LoadedItem {
            item,
            body: Some(body),
            problem: None,
        }],
        problems: vec![],
    };
    let cfg = siemproof::config::Config::parse(siemproof::config::INIT_TEMPLATE, "init")
        .expect("the init template parses");
    let _ = siemproof::normalize::normalize(&bundle, &cfg, at, &[]);
});
