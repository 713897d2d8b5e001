//! `side`: the ratios side by side (issue 25). In each of `DG_BENCH_ROUNDS` (5) rounds
//! the bare hyper baseline and every daemon build take the same `POST /check` load in
//! turn, over HTTP and then over HTTPS: this build, the static build
//! (`DG_BENCH_STATIC_BIN`) and the builds of `DG_BENCH_ALT_BIN` (e.g. the build before a
//! change, named by its file name). Each build has its own stores (builds of different
//! formats cannot share one). Per build and protocol the rows give the median and the
//! spread (min and max over the rounds) of requests/s, of each round's ratio to the
//! baseline of the same round, and of the daemon's CPU per check.

use std::path::PathBuf;

use crate::daemon::{base, contract, cpu_seconds, load, median, start, Protocol, Setup};
use crate::load::check_body;
use crate::Bench;

/// One daemon build with its two stores (HTTP and HTTPS) and the check body of each.
struct Build {
    name: String,
    bin: PathBuf,
    setups: [(Setup, String); 2],
}

/// What one subject (the baseline or a build) measured over the rounds, per protocol.
#[derive(Default, Clone)]
struct Figures {
    rps: Vec<f64>,
    cpu_us: Vec<f64>,
}

/// Runs the rounds and reports every build against the baseline and this build.
pub async fn run(b: &mut Bench) {
    let mut named: Vec<(String, PathBuf)> = vec![("this build".into(), b.glibc_bin.clone())];
    match &b.static_bin {
        Some(path) => named.push(("static build (the container's)".into(), path.clone())),
        None => println!("(no DG_BENCH_STATIC_BIN: no static build in the rounds)"),
    }
    for path in &b.alt_bins {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        named.push((name, path.clone()));
    }
    let mut builds = Vec::new();
    for (i, (name, bin)) in named.into_iter().enumerate() {
        let http = Setup::with(b.dir.path(), &format!("side-{i}"), &b.ca.pem_file, None, "");
        let https = Setup::with(
            b.dir.path(),
            &format!("side-{i}-tls"),
            &b.ca.pem_file,
            Some(&b.cert),
            "",
        );
        let http_body = check_body(&contract(b, &bin, &http, Protocol::Http, "bench").await);
        let https_body = check_body(&contract(b, &bin, &https, Protocol::Https, "bench").await);
        builds.push(Build {
            name,
            bin,
            setups: [(http, http_body), (https, https_body)],
        });
    }

    let baselines = [
        crate::baseline::start(None).await,
        crate::baseline::start(Some(&b.cert)).await,
    ];
    let baseline_body = check_body("ctr_00000000000000000000000000");
    let protocols = [Protocol::Http, Protocol::Https];
    let mut baseline = vec![Figures::default(); 2];
    let mut measured = vec![vec![Figures::default(); 2]; builds.len()];
    for _ in 0..b.rounds {
        for (p, protocol) in protocols.into_iter().enumerate() {
            let url = format!("{}/api/v1/check", base(protocol, baselines[p].port()));
            let before = cpu_seconds(std::process::id());
            let run = load(b, protocol, &url, "", &baseline_body);
            let cpu = (cpu_seconds(std::process::id()) - before) * 1e6 / run.ok.max(1.0);
            baseline[p].rps.push(run.rps);
            baseline[p].cpu_us.push(cpu);
            for (i, build) in builds.iter().enumerate() {
                let (setup, body) = &build.setups[p];
                let daemon = start(b, &build.bin, setup, protocol).await;
                let url = format!("{}/api/v1/check", base(protocol, setup.port));
                let (run, cpu) = daemon.measure(|| load(b, protocol, &url, &b.key, body));
                daemon.stop().await;
                measured[i][p].rps.push(run.rps);
                measured[i][p].cpu_us.push(cpu);
            }
        }
    }

    let rounds = b.rounds;
    for (p, protocol) in protocols.into_iter().enumerate() {
        let scenario = format!(
            "baseline, {} ({rounds} alternating rounds)",
            protocol.name()
        );
        spread(b, &scenario, "requests/s", &baseline[p].rps, "req/s");
        spread(b, &scenario, "CPU per request", &baseline[p].cpu_us, "µs");
        for (i, build) in builds.iter().enumerate() {
            let figures = &measured[i][p];
            let scenario = format!(
                "POST /check, {}, {} ({rounds} alternating rounds)",
                protocol.name(),
                build.name
            );
            spread(b, &scenario, "requests/s", &figures.rps, "req/s");
            let to_baseline = ratios(&figures.rps, &baseline[p].rps);
            spread(b, &scenario, "× baseline, per round", &to_baseline, "×");
            spread(b, &scenario, "daemon CPU per check", &figures.cpu_us, "µs");
            if i > 0 {
                let to_this = ratios(&figures.rps, &measured[0][p].rps);
                spread(b, &scenario, "× this build, per round", &to_this, "×");
            }
        }
    }
    targets(b, &builds, &measured, &baseline);
}

/// The targets of issue 25 that these rounds measure, from the medians.
fn targets(b: &mut Bench, builds: &[Build], measured: &[Vec<Figures>], baseline: &[Figures]) {
    let this = &measured[0];
    for (p, key, goal_what) in [
        (0, "check_vs_baseline", "HTTP"),
        (1, "check_vs_baseline_https", "HTTPS"),
    ] {
        let ratio = median(&ratios(&this[p].rps, &baseline[p].rps));
        b.results.target(
            key,
            &format!("durable POST /check req/s vs the bare-hyper baseline, {goal_what} (median of each round's ratio)"),
            median(&this[p].rps),
            "req/s",
            Some(ratio),
            ratio >= 0.6,
            ">= 0.6x",
        );
    }
    let cpu = median(&this[0].cpu_us);
    b.results.target(
        "cpu_per_check",
        "daemon CPU time per POST /check over HTTP, median (ratio: to the baseline's per request)",
        cpu,
        "µs",
        Some(cpu / median(&baseline[0].cpu_us)),
        cpu <= 45.0,
        "<= 45 µs",
    );
    if b.static_bin.is_some() && builds.len() > 1 {
        let ratio = median(&ratios(&measured[1][0].rps, &this[0].rps));
        b.results.target(
            "static_vs_glibc",
            "the container's static build vs this (dynamic) build, POST /check req/s (median of each round's ratio)",
            median(&measured[1][0].rps),
            "req/s",
            Some(ratio),
            ratio >= 0.95,
            ">= 0.95x",
        );
    }
}

/// Each round's `values[i] / against[i]`.
fn ratios(values: &[f64], against: &[f64]) -> Vec<f64> {
    values.iter().zip(against).map(|(v, a)| v / a).collect()
}

/// The median, min and max of `values` as three rows.
fn spread(b: &mut Bench, scenario: &str, figure: &str, values: &[f64], unit: &'static str) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let results = &mut b.results;
    results.add(
        scenario,
        &format!("{figure} (median)"),
        median(values),
        unit,
        None,
    );
    results.add(scenario, &format!("{figure} (min)"), min, unit, None);
    results.add(scenario, &format!("{figure} (max)"), max, unit, None);
}
