//! The tokio runtime the addon's async functions and the NATS engine run on.
//!
//! One worker thread by default, where napi-rs would start one per CPU. JS is one thread, so a
//! second worker mostly adds cross-thread wake-ups: measured on 2 vCPUs, one worker served 5-8 %
//! more request/reply (concurrency 1 and 64) and pub/sub with less CPU per message
//! (benches/RESULTS.md). `CATGA_TOKIO_WORKERS=<n>` sets another count (e.g. for many
//! connections that compress large frames).

const WORKERS_ENV: &str = "CATGA_TOKIO_WORKERS";
const DEFAULT_WORKERS: usize = 1;

#[napi_derive::module_init]
fn init_runtime() {
    let workers = match std::env::var(WORKERS_ENV) {
        Err(_) => DEFAULT_WORKERS,
        Ok(value) => value.trim().parse::<usize>().ok().filter(|&n| n > 0).unwrap_or_else(|| {
            // Module load cannot throw to the caller: say it and go on with the default.
            eprintln!(
                "[catga] {WORKERS_ENV} must be a whole number of at least 1, got {value:?}; using {DEFAULT_WORKERS}"
            );
            DEFAULT_WORKERS
        }),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("catga-tokio")
        .enable_all()
        .build();
    // On failure napi-rs creates its default runtime on first use.
    if let Ok(runtime) = runtime {
        napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
    }
}
