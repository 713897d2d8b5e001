//! `static`: the static musl build against this (glibc) build: alternating rounds on the
//! same store, median of each. `DG_BENCH_ALT_BIN` (a PATH-like list) adds binaries to the
//! rounds, named by their file names (e.g. another allocator, or the build before a
//! change).

use std::path::PathBuf;

use crate::daemon::{median, Daemon};
use crate::load::{post_args, run_oha};
use crate::Bench;

/// Runs `rounds` alternating rounds of every binary on the HTTP configuration.
pub async fn run(b: &mut Bench) {
    let mut bins: Vec<(String, PathBuf)> = vec![("glibc build".into(), b.glibc_bin.clone())];
    if let Some(path) = &b.static_bin {
        bins.push(("static musl build".into(), path.clone()));
    } else {
        println!("(no DG_BENCH_STATIC_BIN: the static row is skipped; benches/run.sh sets it)");
    }
    for path in &b.alt_bins {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        bins.push((name, path.clone()));
    }
    let rounds = b.rounds;
    let mut rps: Vec<Vec<f64>> = vec![Vec::new(); bins.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); bins.len()];
    for _ in 0..rounds {
        for (i, (_, bin)) in bins.iter().enumerate() {
            let daemon = Daemon::start_bin(bin, &b.http, &b.key).await;
            let (run, cpu_us) =
                daemon.measure(|| run_oha(&post_args(&b.url, &b.key, &b.body, &b.seconds)));
            rps[i].push(run.rps);
            cpu[i].push(cpu_us);
            daemon.stop().await;
        }
    }
    let medians: Vec<f64> = rps.iter().map(|v| median(v)).collect();
    for (i, (name, _)) in bins.iter().enumerate() {
        let scenario = format!("POST /check, HTTP, {name} ({rounds} alternating rounds)");
        b.results.add(
            &scenario,
            "requests/s (median)",
            medians[i],
            "req/s",
            Some(b.baseline.rps),
        );
        b.results.add(
            &scenario,
            "daemon CPU per check (median)",
            median(&cpu[i]),
            "µs",
            Some(b.baseline_cpu_us),
        );
        if i > 0 {
            b.results.add(
                &scenario,
                "requests/s vs glibc build",
                medians[i],
                "req/s",
                Some(medians[0]),
            );
        }
    }
    if b.static_bin.is_some() {
        let ratio = medians[1] / medians[0];
        b.results.target(
            "static_vs_glibc",
            "static musl build vs glibc build, POST /check req/s (medians, alternating)",
            medians[1],
            "req/s",
            Some(ratio),
            ratio >= 0.95,
            ">= 0.95x",
        );
        let ratio = medians[1] / b.baseline.rps;
        b.results.target(
            "check_vs_baseline_static",
            "durable POST /check req/s vs the bare-hyper baseline (static musl build)",
            medians[1],
            "req/s",
            Some(ratio),
            ratio >= 0.6,
            ">= 0.6x",
        );
    }
}
