//! The Kubernetes manifests (`deploy/kubernetes/`) and the Dockerfile
//! (`deploy/Dockerfile`): valid against the Kubernetes API schemas, offline
//! (`kubernetes-validate`, which bundles them; `scripts/setup.sh` installs
//! it), and consistent with each other and with the host — the invariants a
//! schema cannot see, such as a termination grace period longer than the
//! drain it has to cover.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use yaml_rust2::{Yaml, YamlLoader};

/// The oldest and the newest Kubernetes the pinned kubernetes-validate
/// bundles schemas for. Fields are added, deprecated and removed over
/// releases, never removed and re-added, so passing both ends means every
/// version between accepts the manifests too.
const KUBERNETES_VERSIONS: &[&str] = &["1.25.0", "1.37.0"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the workspace").to_owned()
}

fn manifests_dir() -> PathBuf {
    root().join("deploy/kubernetes")
}

/// Every `*.yaml` in deploy/kubernetes but kustomization.yaml, which is
/// kustomize's input rather than a Kubernetes object (no schema has it).
fn kubernetes_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifests_dir())
        .expect("read deploy/kubernetes")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no manifests in deploy/kubernetes");
    files
}

/// The documents of a YAML file, as JSON values (JSON pointers then reach
/// any field).
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    docs.iter().filter(|d| !d.is_null()).map(to_json).collect()
}

fn to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Real(text) => text.parse::<f64>().map_or_else(|_| Value::String(text.clone()), Value::from),
        Yaml::Integer(n) => Value::from(*n),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        other => to_json(other).to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Alias(_) | Yaml::Null | Yaml::BadValue => Value::Null,
    }
}

/// Every object in deploy/kubernetes, by `Kind/name`.
fn objects() -> BTreeMap<String, Value> {
    let mut all = BTreeMap::new();
    for file in kubernetes_files() {
        for doc in documents(&file) {
            let key = format!("{}/{}", text(&doc, "/kind"), text(&doc, "/metadata/name"));
            assert!(all.insert(key.clone(), doc).is_none(), "{key} is defined twice");
        }
    }
    all
}

fn object(kind_and_name: &str) -> Value {
    objects().remove(kind_and_name).unwrap_or_else(|| panic!("no {kind_and_name} in deploy/kubernetes"))
}

fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value.pointer(pointer).unwrap_or_else(|| panic!("no {pointer} in {value:#}"))
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    at(value, pointer).as_str().unwrap_or_else(|| panic!("{pointer} is not a string"))
}

fn number(value: &Value, pointer: &str) -> i64 {
    at(value, pointer).as_i64().unwrap_or_else(|| panic!("{pointer} is not an integer"))
}

/// The one container of the Deployment's pods.
fn container(deployment: &Value) -> &Value {
    let containers = at(deployment, "/spec/template/spec/containers").as_array().expect("containers");
    assert_eq!(containers.len(), 1, "the host is the pod's only container");
    &containers[0]
}

/// The container's plain `env` values (not the ones from Secrets).
fn env(container: &Value) -> BTreeMap<String, String> {
    let entries = at(container, "/env").as_array().expect("env");
    entries.iter().filter_map(|e| Some((text(e, "/name").to_owned(), e.get("value")?.as_str()?.to_owned()))).collect()
}

/// The port of a `HOST:PORT` address.
fn port_of(addr: &str) -> i64 {
    addr.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no port in {addr:?}"))
}

/// The container port a probe or Service names (by name or number).
fn resolve_port(container: &Value, port: &Value) -> i64 {
    if let Some(n) = port.as_i64() {
        return n;
    }
    let name = port.as_str().expect("a port is a name or a number");
    let ports = at(container, "/ports").as_array().expect("ports");
    let found = ports.iter().find(|p| p.get("name").and_then(Value::as_str) == Some(name));
    number(found.unwrap_or_else(|| panic!("no container port named {name}")), "/containerPort")
}

/// A `WASMROUTES_SHUTDOWN_GRACE` value, in the units the host's
/// `parse_duration` takes (ms, s, m).
fn parse_duration(text: &str) -> Duration {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().unwrap_or_else(|_| panic!("{text:?} is not a duration"));
    match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => panic!("{text:?}: the host takes ms, s or m"),
    }
}

#[test]
fn kubernetes_validate_accepts_every_manifest() {
    let files = kubernetes_files();
    for version in KUBERNETES_VERSIONS {
        let output = Command::new("kubernetes-validate")
            .args(["--strict", "-k", version])
            .args(&files)
            .output()
            .unwrap_or_else(|e| panic!("cannot run kubernetes-validate ({e}): run scripts/setup.sh to install it"));
        let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        assert!(output.status.success(), "kubernetes-validate -k {version}:\n{report}");
        // A kind it has no schema for is only a warning with exit 0: every
        // document must have been validated against a schema.
        assert!(!report.lines().any(|l| l.starts_with("WARN")), "kubernetes-validate -k {version}:\n{report}");
        for file in &files {
            let name = file.display().to_string();
            let passed = report.lines().filter(|l| l.contains(&name) && l.contains(" passed ")).count();
            assert_eq!(passed, documents(file).len(), "{name}: not every document was validated:\n{report}");
        }
    }
}

#[test]
fn kustomization_lists_files_that_exist_and_every_manifest() {
    let dir = manifests_dir();
    let kustomization = documents(&dir.join("kustomization.yaml")).remove(0);
    let resources: Vec<&str> = at(&kustomization, "/resources")
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().expect("a resource is a path"))
        .collect();
    let mut files = resources.clone();
    for generator in ["configMapGenerator", "secretGenerator"] {
        for g in kustomization.get(generator).and_then(Value::as_array).into_iter().flatten() {
            for f in g.get("files").and_then(Value::as_array).into_iter().flatten() {
                let f = f.as_str().expect("a generator file is a path");
                // `key=path` names the key after something else than the file.
                files.push(f.split_once('=').map_or(f, |(_, path)| path));
            }
        }
    }
    for f in &files {
        assert!(dir.join(f).is_file(), "kustomization.yaml names {f}, which is not in deploy/kubernetes");
    }
    // Every object is applied, except the Secret's example, which holds
    // a placeholder password on purpose.
    for file in kubernetes_files() {
        let name = file.file_name().and_then(|n| n.to_str()).expect("a UTF-8 file name");
        if !name.ends_with(".example.yaml") {
            assert!(resources.contains(&name), "kustomization.yaml does not list {name}");
        }
    }
    // routes.toml reaches the pods through the generated ConfigMap, whose
    // name kustomize rewrites in the Deployment only if the names match.
    let deployment = object("Deployment/wasmroutes");
    let generated = at(&kustomization, "/configMapGenerator/0");
    assert_eq!(at(generated, "/files").as_array().map(Vec::len), Some(1));
    assert_eq!(text(generated, "/files/0"), "routes.toml");
    let volumes = at(&deployment, "/spec/template/spec/volumes").as_array().expect("volumes");
    let routes_volume = volumes
        .iter()
        .find(|v| v.pointer("/configMap/name").and_then(Value::as_str) == Some(text(generated, "/name")))
        .expect("a volume of the generated ConfigMap");
    let mounts = at(container(&deployment), "/volumeMounts").as_array().expect("volumeMounts");
    let mount = mounts.iter().find(|m| m["name"] == routes_volume["name"]).expect("the ConfigMap is mounted");
    assert_eq!(text(mount, "/subPath"), "routes.toml");
    assert_eq!(mount["readOnly"], true);
    let args = at(container(&deployment), "/args").as_array().expect("args");
    assert_eq!(args.first().and_then(Value::as_str), Some("serve"));
    assert_eq!(args.last().and_then(Value::as_str), Some(text(mount, "/mountPath")), "serve reads the mounted file");
    // `images:` rewrites the container's image only if it names it.
    let image = text(container(&deployment), "/image");
    let images = at(&kustomization, "/images").as_array().expect("images");
    assert!(images.iter().any(|i| i["name"] == image), "kustomization.yaml `images:` does not name {image}");
}

#[test]
fn termination_grace_covers_pre_stop_and_the_shutdown_grace() {
    let deployment = object("Deployment/wasmroutes");
    let c = container(&deployment);
    let grace = parse_duration(env(c).get("WASMROUTES_SHUTDOWN_GRACE").expect("WASMROUTES_SHUTDOWN_GRACE is set"));
    let pre_stop = at(c, "/lifecycle/preStop");
    let pre_stop_secs: u64 = match (pre_stop.pointer("/exec/command"), pre_stop.pointer("/sleep/seconds")) {
        (Some(command), None) => {
            let command: Vec<&str> = command.as_array().expect("command").iter().filter_map(Value::as_str).collect();
            assert_eq!(command.len(), 2, "preStop is `sleep N`: {command:?}");
            assert_eq!(command[0], "sleep");
            command[1].parse().expect("whole seconds")
        }
        (None, Some(seconds)) => seconds.as_u64().expect("whole seconds"),
        _ => panic!("preStop is a sleep: {pre_stop}"),
    };
    assert!(pre_stop_secs > 0, "without a preStop delay the host drains while endpoints still send it requests");
    let termination =
        u64::try_from(number(&deployment, "/spec/template/spec/terminationGracePeriodSeconds")).expect("positive");
    assert!(
        Duration::from_secs(termination) > Duration::from_secs(pre_stop_secs) + grace,
        "terminationGracePeriodSeconds {termination} must exceed preStop {pre_stop_secs}s + shutdown grace {grace:?}"
    );
}

/// The host's `stream_idle_timeout` when a route sets none
/// (`Limits::DEFAULT_STREAM_IDLE_TIMEOUT`, host/src/limits.rs).
const DEFAULT_STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The longest `stream_idle_timeout` a route of deploy/kubernetes/routes.toml
/// has: the default, or a longer one its `limits` set.
fn longest_stream_idle_timeout() -> Duration {
    let routes = std::fs::read_to_string(manifests_dir().join("routes.toml")).expect("read routes.toml");
    // Values hold no `#`: what follows one is a comment.
    let code = routes.lines().map(|l| l.split('#').next().unwrap_or_default());
    let set = code.flat_map(|line| {
        line.match_indices("stream_idle_timeout").map(move |(at, _)| {
            let value = line[at..].split('"').nth(1).expect("stream_idle_timeout = \"…\"");
            parse_duration(value)
        })
    });
    set.fold(DEFAULT_STREAM_IDLE_TIMEOUT, Duration::max)
}

/// The example Ingress sends every path to the Service's http port, and its
/// nginx waits longer between two reads than a route's stream may stay
/// quiet: otherwise the controller, not the host, cuts a quiet stream.
#[test]
fn the_example_ingress_reaches_the_service_and_outwaits_a_quiet_stream() {
    let ingress = object("Ingress/wasmroutes");
    let service = object("Service/wasmroutes");
    let paths = at(&ingress, "/spec/rules/0/http/paths").as_array().expect("paths");
    assert_eq!(paths.len(), 1, "one path for every route");
    assert_eq!((text(&paths[0], "/path"), text(&paths[0], "/pathType")), ("/", "Prefix"));
    let backend = at(&paths[0], "/backend/service");
    assert_eq!(text(backend, "/name"), text(&service, "/metadata/name"));
    let port = at(backend, "/port");
    let ports = at(&service, "/spec/ports").as_array().expect("ports");
    let (key, wanted) = match port.get("name") {
        Some(name) => ("name", name),
        None => ("port", at(port, "/number")),
    };
    assert!(ports.iter().any(|p| p.get(key) == Some(wanted)), "the Ingress names a port the Service has: {port}");
    let idle = longest_stream_idle_timeout();
    for name in ["proxy-read-timeout", "proxy-send-timeout"] {
        let annotation = format!("/metadata/annotations/nginx.ingress.kubernetes.io~1{name}");
        let seconds: u64 = text(&ingress, &annotation).parse().expect("whole seconds");
        assert!(Duration::from_secs(seconds) > idle, "{name} {seconds}s must exceed stream_idle_timeout {idle:?}");
    }
}

#[test]
fn probes_and_ports_match_the_hosts_addresses() {
    let deployment = object("Deployment/wasmroutes");
    assert_eq!(number(&deployment, "/spec/replicas"), 3);
    let c = container(&deployment);
    let env = env(c);
    let admin = port_of(env.get("WASMROUTES_ADMIN_ADDR").expect("WASMROUTES_ADMIN_ADDR is set"));
    let http = port_of(env.get("WASMROUTES_ADDR").expect("WASMROUTES_ADDR is set"));
    assert_ne!(admin, http, "the admin endpoints have a port of their own");
    assert_eq!(resolve_port(c, &Value::from("admin")), admin);
    assert_eq!(resolve_port(c, &Value::from("http")), http);
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let get = at(c, &format!("/{probe}/httpGet"));
        assert_eq!(text(get, "/path"), path, "{probe}");
        assert_eq!(resolve_port(c, at(get, "/port")), admin, "{probe} must ask the admin port");
    }
}

#[test]
fn deployment_env_names_are_ones_the_host_reads() {
    let a = e2e_support::artifacts();
    let help = e2e_support::run_wasmroutes(&["serve", "--help"], &a.root, &[]);
    assert!(help.status.success(), "wasmroutes serve --help failed");
    let help = String::from_utf8_lossy(&help.stdout);
    let deployment = object("Deployment/wasmroutes");
    let entries = at(container(&deployment), "/env").as_array().expect("env");
    let names: Vec<&str> = entries.iter().map(|e| text(e, "/name")).filter(|n| n.starts_with("WASMROUTES_")).collect();
    assert!(!names.is_empty());
    for name in names {
        assert!(help.contains(&format!("[env: {name}=")), "{name} is not a variable `wasmroutes serve` reads:\n{help}");
    }
    // The Secrets the Deployment reads routes.toml's URLs from are the ones
    // the examples show how to create.
    for name in ["REDIS_URL", "DATABASE_URL"] {
        let url = entries.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("{name} is set"));
        let secret = object(&format!("Secret/{}", text(url, "/valueFrom/secretKeyRef/name")));
        let key = text(url, "/valueFrom/secretKeyRef/key");
        assert!(secret.pointer(&format!("/stringData/{key}")).is_some(), "the example Secret has no key {key}");
    }
}

#[test]
fn pods_run_as_non_root_on_a_read_only_root() {
    let deployment = object("Deployment/wasmroutes");
    let pod = at(&deployment, "/spec/template/spec/securityContext");
    let c = at(container(&deployment), "/securityContext");
    assert_eq!(c["readOnlyRootFilesystem"], true);
    assert_eq!(c["allowPrivilegeEscalation"], false);
    assert!(c["runAsNonRoot"] == true || pod["runAsNonRoot"] == true, "runAsNonRoot");
    let user = c.get("runAsUser").or_else(|| pod.get("runAsUser")).and_then(Value::as_i64).expect("runAsUser");
    assert_ne!(user, 0);
    assert_eq!(at(c, "/capabilities/drop"), &serde_json::json!(["ALL"]));
    // A writable volume would hide a host that writes where it should not
    // (and keep embedded stores per pod): the only mount is routes.toml.
    for mount in at(container(&deployment), "/volumeMounts").as_array().expect("volumeMounts") {
        assert_eq!(mount["readOnly"], true, "{mount}");
    }
}

#[test]
fn service_hpa_and_budget_select_the_deployments_pods() {
    let all = objects();
    let deployment = &all["Deployment/wasmroutes"];
    let labels = at(deployment, "/spec/template/metadata/labels").as_object().expect("pod labels");
    let selects_pods = |selector: &Value, what: &str| {
        let selector = selector.as_object().expect("a selector");
        assert!(!selector.is_empty(), "{what} selects everything");
        for (k, v) in selector {
            assert_eq!(labels.get(k), Some(v), "{what} selects {k}={v}, which the pods do not have");
        }
    };
    selects_pods(at(deployment, "/spec/selector/matchLabels"), "the Deployment");
    let service = &all["Service/wasmroutes"];
    selects_pods(at(service, "/spec/selector"), "the Service");
    let c = container(deployment);
    let admin = resolve_port(c, &Value::from("admin"));
    for port in at(service, "/spec/ports").as_array().expect("ports") {
        let target = resolve_port(c, port.get("targetPort").unwrap_or(at(port, "/port")));
        assert_eq!(target, resolve_port(c, &Value::from("http")), "the Service exposes the routes only");
        assert_ne!(target, admin);
    }
    let pdb = &all["PodDisruptionBudget/wasmroutes"];
    selects_pods(at(pdb, "/spec/selector/matchLabels"), "the PodDisruptionBudget");

    let hpa = &all["HorizontalPodAutoscaler/wasmroutes"];
    assert_eq!(text(hpa, "/apiVersion"), "autoscaling/v2");
    assert_eq!(text(hpa, "/spec/scaleTargetRef/kind"), "Deployment");
    assert_eq!(text(hpa, "/spec/scaleTargetRef/apiVersion"), "apps/v1");
    assert_eq!(text(hpa, "/spec/scaleTargetRef/name"), text(deployment, "/metadata/name"));
    assert!(number(hpa, "/spec/minReplicas") >= number(deployment, "/spec/replicas"));
    assert_eq!(text(hpa, "/spec/metrics/0/resource/name"), "cpu");
    // Utilization is a share of the request: without one the HPA does nothing.
    assert!(c.pointer("/resources/requests/cpu").is_some(), "the HPA needs a CPU request");
}

#[test]
fn redis_keeps_what_it_acknowledged() {
    let redis = object("StatefulSet/redis");
    let args: Vec<&str> = at(&redis, "/spec/template/spec/containers/0/args")
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let flag = |name: &str| args.iter().position(|a| *a == name).and_then(|i| args.get(i + 1)).copied();
    assert_eq!(flag("--appendonly"), Some("yes"));
    assert_eq!(flag("--appendfsync"), Some("always"));
    assert_eq!(text(&redis, "/spec/volumeClaimTemplates/0/metadata/name"), "data");
    let service = object(&format!("Service/{}", text(&redis, "/spec/serviceName")));
    assert_eq!(text(&service, "/spec/clusterIP"), "None", "a StatefulSet's Service is headless");
}

#[test]
fn postgres_keeps_its_data_and_the_hosts_url_reaches_it() {
    let postgres = object("StatefulSet/postgres");
    let c = at(&postgres, "/spec/template/spec/containers/0");
    assert!(text(c, "/image").starts_with("postgres:"), "the official image");
    let env = at(c, "/env").as_array().expect("env");
    let var = |name: &str| env.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("{name} is set"));
    // The data is on the claim, in a folder of its own (initdb refuses a
    // mount point holding lost+found).
    let claim = text(&postgres, "/spec/volumeClaimTemplates/0/metadata/name");
    let mounts = at(c, "/volumeMounts").as_array().expect("volumeMounts");
    let data = mounts.iter().find(|m| m["name"] == claim).expect("the claim is mounted");
    let pgdata = text(var("PGDATA"), "/value");
    assert!(pgdata.starts_with(&format!("{}/", text(data, "/mountPath"))), "PGDATA {pgdata} is inside the volume");
    let probe: Vec<&str> =
        at(c, "/readinessProbe/exec/command").as_array().expect("command").iter().filter_map(Value::as_str).collect();
    assert_eq!(probe.first(), Some(&"pg_isready"));
    let service = object(&format!("Service/{}", text(&postgres, "/spec/serviceName")));
    assert_eq!(text(&service, "/spec/clusterIP"), "None", "a StatefulSet's Service is headless");

    // The server's password and the hosts' URL come from one Secret, and the
    // example's URL names this Service, its port, the user and the database.
    let deployment = object("Deployment/wasmroutes");
    let hosts_env = at(container(&deployment), "/env").as_array().expect("env");
    let url_ref = hosts_env.iter().find(|e| e["name"] == "DATABASE_URL").expect("DATABASE_URL is set");
    let secret_name = text(url_ref, "/valueFrom/secretKeyRef/name");
    assert_eq!(text(var("POSTGRES_PASSWORD"), "/valueFrom/secretKeyRef/name"), secret_name);
    let secret = object(&format!("Secret/{secret_name}"));
    let password =
        text(&secret, &format!("/stringData/{}", text(var("POSTGRES_PASSWORD"), "/valueFrom/secretKeyRef/key")));
    let url = text(&secret, &format!("/stringData/{}", text(url_ref, "/valueFrom/secretKeyRef/key")));
    let port = number(&service, "/spec/ports/0/port");
    let (user, database) = (text(var("POSTGRES_USER"), "/value"), text(var("POSTGRES_DB"), "/value"));
    let service_name = text(&service, "/metadata/name");
    assert_eq!(url, format!("postgres://{user}:{password}@{service_name}:{port}/{database}"));
}

/// The runtime stage of deploy/Dockerfile: its `ENV` pairs, `EXPOSE`d ports
/// and `USER`.
struct RuntimeStage {
    env: BTreeMap<String, String>,
    expose: Vec<i64>,
    user: String,
}

fn runtime_stage() -> RuntimeStage {
    let path = root().join("deploy/Dockerfile");
    let text = std::fs::read_to_string(&path).expect("read deploy/Dockerfile");
    // Instructions, with `\` continuations joined and comments dropped.
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                let instruction = std::mem::take(&mut current);
                if !instruction.trim().is_empty() {
                    instructions.push(instruction);
                }
            }
        }
    }
    let last_from = instructions.iter().rposition(|i| i.starts_with("FROM ")).expect("a FROM");
    let mut stage = RuntimeStage { env: BTreeMap::new(), expose: Vec::new(), user: String::new() };
    for instruction in &instructions[last_from..] {
        let (word, rest) = instruction.split_once(' ').unwrap_or((instruction, ""));
        match word {
            "ENV" => {
                for pair in rest.split_whitespace() {
                    let (k, v) = pair.split_once('=').unwrap_or_else(|| panic!("ENV {pair}: write NAME=VALUE"));
                    stage.env.insert(k.to_owned(), v.to_owned());
                }
            }
            "EXPOSE" => stage.expose.extend(rest.split_whitespace().map(|p| p.parse::<i64>().expect("a port"))),
            "USER" => rest.trim().clone_into(&mut stage.user),
            _ => {}
        }
    }
    stage
}

#[test]
fn dockerfile_runtime_agrees_with_the_deployment() {
    let stage = runtime_stage();
    let deployment = object("Deployment/wasmroutes");
    let c = container(&deployment);
    let env = env(c);
    for (name, value) in &stage.env {
        if let Some(set) = env.get(name) {
            assert_eq!(set, value, "deploy/Dockerfile and deployment.yaml disagree on {name}");
        }
    }
    let mut container_ports: Vec<i64> =
        at(c, "/ports").as_array().expect("ports").iter().map(|p| number(p, "/containerPort")).collect();
    container_ports.sort_unstable();
    let mut expose = stage.expose.clone();
    expose.sort_unstable();
    assert_eq!(expose, container_ports, "EXPOSE and the container's ports");
    for name in ["WASMROUTES_ADDR", "WASMROUTES_ADMIN_ADDR"] {
        let addr = stage.env.get(name).unwrap_or_else(|| panic!("the image sets {name}"));
        assert!(expose.contains(&port_of(addr)), "{name}={addr} is not EXPOSEd");
    }
    let uid = stage.user.split(':').next().expect("USER uid[:gid]");
    let uid: i64 = uid.parse().expect("a numeric USER, so runAsNonRoot can check it");
    assert_eq!(uid, number(c, "/securityContext/runAsUser"), "the image's USER and runAsUser");
}
