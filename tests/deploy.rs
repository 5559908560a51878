//! The ready-made schedules under deploy/ are what their platforms accept, checked offline by
//! the platforms' own validators: the GitHub workflow and the Azure DevOps pipeline against the
//! schemas check-jsonschema ships, the systemd units by `systemd-analyze verify`, the Kubernetes
//! manifests by kubernetes-validate (strict), the container build file by dockerfile-parse. Each
//! also runs collect → audit --sign --ledger, as docs/schedule.md says.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

fn deploy(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(deploy(rel)).unwrap_or_else(|e| panic!("deploy/{rel}: {e}"))
}

/// Every schedule collects, audits with a signature and appends to a ledger.
fn runs_the_chain(rel: &str) {
    let t = read(rel);
    for needle in ["collect", "audit", "--sign", "--ledger"] {
        assert!(t.contains(needle), "deploy/{rel} does not run {needle}");
    }
}

#[test]
fn github_workflow_and_azure_pipeline_validate() {
    if !require(
        "check-jsonschema",
        Command::new("check-jsonschema").arg("--version"),
    ) {
        return;
    }
    for (rel, schema) in [
        ("github-actions/siemproof.yml", "vendor.github-workflows"),
        (
            "azure-pipelines/azure-pipelines.yml",
            "vendor.azure-pipelines",
        ),
    ] {
        // The Azure Pipelines schema's patterns need Python's regex dialect.
        let o = run(Command::new("check-jsonschema")
            .args(["--regex-variant", "python", "--builtin-schema", schema])
            .arg(deploy(rel)));
        assert!(o.status.success(), "deploy/{rel}: {}", text(&o));
        runs_the_chain(rel);
    }
    // Workload identity federation, no stored Azure secret.
    let gh = read("github-actions/siemproof.yml");
    assert!(gh.contains("id-token: write") && gh.contains("AZURE_FEDERATED_TOKEN_FILE"));
    assert!(!gh.contains("AZURE_CLIENT_SECRET"));
    let ado = read("azure-pipelines/azure-pipelines.yml");
    assert!(
        ado.contains("addSpnToEnvironment: true") && ado.contains("AZURE_FEDERATED_TOKEN_FILE")
    );
}

#[test]
fn systemd_units_verify() {
    if !require(
        "systemd-analyze",
        Command::new("systemd-analyze").arg("--version"),
    ) {
        return;
    }
    // A root with the units, the programs they start and the system's own units, so
    // `verify` checks ExecStart= paths without anything installed on this machine.
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    for d in [
        "usr/local/bin",
        "bin",
        "etc/systemd/system",
        "usr/lib/systemd",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::copy(
        env!("CARGO_BIN_EXE_siemproof"),
        root.join("usr/local/bin/siemproof"),
    )
    .unwrap();
    std::fs::copy("/bin/sh", root.join("bin/sh")).unwrap();
    let o = run(Command::new("cp")
        .args(["-a", "/usr/lib/systemd/system"])
        .arg(root.join("usr/lib/systemd/")));
    assert!(o.status.success(), "{}", text(&o));
    for u in ["siemproof.service", "siemproof.timer"] {
        std::fs::copy(
            deploy(&format!("systemd/{u}")),
            root.join("etc/systemd/system").join(u),
        )
        .unwrap();
    }
    let o = run(Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(format!("--root={}", root.display()))
        .args(["siemproof.service", "siemproof.timer"]));
    assert!(o.status.success(), "systemd-analyze verify: {}", text(&o));
    assert!(text(&o).trim().is_empty(), "warnings: {}", text(&o));
    runs_the_chain("systemd/siemproof.service");
    let s = read("systemd/siemproof.service");
    assert!(s.contains("User=siemproof") && s.contains("NoNewPrivileges=yes"));
    // The verifier is not blind: a misspelt directive fails it.
    let bad = root.join("etc/systemd/system/siemproof.service");
    std::fs::write(
        &bad,
        s.replace("Type=oneshot", "Type=oneshot\nExecStrat=/bin/sh"),
    )
    .unwrap();
    let o = run(Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(format!("--root={}", root.display()))
        .arg("siemproof.service"));
    assert!(text(&o).contains("ExecStrat"), "{}", text(&o));
}

#[test]
fn kubernetes_manifests_validate_strictly() {
    if !require(
        "kubernetes-validate",
        Command::new("kubernetes-validate").arg("--version"),
    ) {
        return;
    }
    for rel in [
        "kubernetes/cronjob.yaml",
        "kubernetes/serviceaccount.yaml",
        "kubernetes/fleet-job.yaml",
        "kubernetes/fleet-merge-job.yaml",
        "kubernetes/fleet-pvc.yaml",
        "kubernetes/fleet-configmap.yaml",
    ] {
        let o = run(Command::new("kubernetes-validate")
            .arg("--strict")
            .arg(deploy(rel)));
        assert!(o.status.success(), "deploy/{rel}: {}", text(&o));
    }
    runs_the_chain("kubernetes/cronjob.yaml");
    let cj = read("kubernetes/cronjob.yaml");
    assert!(
        cj.contains("azure.workload.identity/use: \"true\"") && cj.contains("runAsNonRoot: true")
    );
    // The fleet: an Indexed Job whose pods each take their shard, then the merge.
    let job = read("kubernetes/fleet-job.yaml");
    assert!(job.contains("completionMode: Indexed") && job.contains("\"k8s/4\""));
    assert!(job.contains("[\"fleet\", \"collect\"") && job.contains("[\"fleet\", \"audit\""));
    assert!(job.contains("completions: 4") && job.contains("runAsNonRoot: true"));
    let merge = read("kubernetes/fleet-merge-job.yaml");
    assert!(merge.contains("\"report\"") && merge.contains("\"--sign\", \"-\""));
}

/// The fleet file in the ConfigMap is one siemproof accepts, and its shard flag is one it takes.
#[test]
fn the_fleet_configmaps_fleet_file_parses() {
    // Each block scalar (`name: |`), its 4-space indent removed (kubernetes-validate checks the
    // YAML itself); the tenants' configs are siemproof configs.
    let cm = read("kubernetes/fleet-configmap.yaml");
    let block = |name: &str| -> String {
        cm.split_once(&format!("  {name}: |\n"))
            .unwrap_or_else(|| panic!("no {name}"))
            .1
            .lines()
            .take_while(|l| l.is_empty() || l.starts_with("    "))
            .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
            .collect()
    };
    let f = siemproof::fleet::Fleet::parse(
        &block("fleet.toml"),
        Path::new("/etc/siemproof-fleet/fleet.toml"),
    )
    .unwrap();
    assert_eq!(f.state, Path::new("/var/lib/siemproof-fleet/state"));
    assert_eq!(f.tenants.len(), 2);
    for t in &f.tenants {
        let name = t
            .config
            .as_ref()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        siemproof::config::Config::parse(&block(&name), &name).unwrap();
        assert!(f.credential_of(t).is_some());
    }
    let s = siemproof::fleet::Shard::parse("k8s/4", |k| {
        (k == "JOB_COMPLETION_INDEX").then(|| "3".into())
    })
    .unwrap();
    assert_eq!(s.dir_name(), "shard-3-of-4");
}

#[test]
fn container_build_file_parses_and_runs_as_non_root() {
    if !require(
        "python3 dockerfile_parse",
        Command::new("python3").args(["-c", "import dockerfile_parse"]),
    ) {
        return;
    }
    let o = run(Command::new("python3")
        .args([
            "-c",
            "import json, sys\nfrom dockerfile_parse import DockerfileParser\n\
             d = DockerfileParser(fileobj=open(sys.argv[1], 'rb'))\n\
             print(json.dumps({'base': d.baseimage, 'ins': [(i['instruction'], i['value']) for i in d.structure]}))",
        ])
        .arg(deploy("container/Containerfile")));
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["base"].as_str().unwrap().contains("distroless"), "{v}");
    let ins: Vec<(String, String)> = serde_json::from_value(v["ins"].clone()).unwrap();
    let last_user = ins
        .iter()
        .rev()
        .find(|(i, _)| i == "USER")
        .map(|(_, v)| v.as_str());
    assert_eq!(last_user, Some("nonroot:nonroot"));
    assert!(ins
        .iter()
        .any(|(i, v)| i == "RUN" && v.contains("--locked")));
    assert!(ins
        .iter()
        .any(|(i, v)| i == "ENTRYPOINT" && v.contains("/usr/local/bin/siemproof")));
}
