//! Engine benchmark (see BENCHMARKS.md): a 1,000,000-row, 10-column CSV in a temp dir; the
//! csv crate's parse-only speed on it (the physical limit), our two-pass ingest into the item
//! store (rows/s and peak RSS), GetItem and indexed `eq` latencies, and full-scan filters.
//! Run with `cargo bench --bench engine`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use insights_connector::domain::InstanceId;
use insights_connector::engine::filter::Filter;
use insights_connector::engine::ingest::{self, Format};
use insights_connector::engine::items::{EntityName, ItemStore, Query};

const ROWS: u64 = 1_000_000;
const CUSTOMERS: u64 = 100_000;
const GETS: usize = 10_000;
const LOOKUPS: usize = 2_000;
const SCANS: usize = 5;
const CITIES: [&str; 8] = [
    "Paris", "Berlin", "Madrid", "Rome", "Lisbon", "Vienna", "Oslo", "Dublin",
];

/// A small deterministic generator (xorshift), so every run ingests the same file.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn write_csv(path: &Path) -> u64 {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).expect("create csv"));
    writeln!(
        out,
        "OrderId,CustomerId,Name,Email,City,Country,Amount,Quantity,Paid,CreatedAt"
    )
    .expect("write");
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for n in 0..ROWS {
        let customer = rng.below(CUSTOMERS);
        let city = CITIES[rng.below(CITIES.len() as u64) as usize];
        writeln!(
            out,
            "ord-{n:07},{customer},\"Customer {customer}, {city}\",customer{customer}@example.com,{city},{},{}.{:02},{},{},2024-{:02}-{:02}T{:02}:{:02}:00Z",
            ["FR", "DE", "ES", "IT"][rng.below(4) as usize],
            rng.below(1000),
            rng.below(100),
            1 + rng.below(9),
            if rng.below(2) == 0 { "true" } else { "false" },
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
        )
        .expect("write");
    }
    out.flush().expect("flush");
    std::fs::metadata(path).expect("size").len()
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("a kB figure")
}

/// Resets VmHWM to the current RSS (Linux: writing 5 to clear_refs).
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("clear_refs");
}

/// CPU time of the process (all threads), from /proc/self/stat (clock ticks of 10 ms).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name, which is in parentheses: utime is the 12th, stime the 13th.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .expect("a stat line");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / 100.0
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let csv_path = dir.path().join("orders.csv");
    let started = Instant::now();
    let bytes = write_csv(&csv_path);
    println!(
        "generated {ROWS} rows, 10 columns, {:.1} MiB in {:.1} s",
        bytes as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64()
    );

    // The physical limit: the csv crate parsing the file, nothing else.
    let cpu = cpu_seconds();
    let started = Instant::now();
    let mut reader = csv::ReaderBuilder::new()
        .buffer_capacity(256 * 1024)
        .from_path(&csv_path)
        .expect("open csv");
    let mut record = csv::ByteRecord::new();
    let mut parsed = 0u64;
    while reader.read_byte_record(&mut record).expect("parse") {
        parsed += 1;
    }
    let parse = started.elapsed();
    let parse_cpu = cpu_seconds() - cpu;
    assert_eq!(parsed, ROWS);
    let parse_rate = ROWS as f64 / parse.as_secs_f64();
    println!(
        "csv parse-only (byte records): {:.2} s ({parse_cpu:.2} s CPU), {parse_rate:.0} rows/s",
        parse.as_secs_f64()
    );
    let started = Instant::now();
    let mut reader = csv::ReaderBuilder::new()
        .buffer_capacity(256 * 1024)
        .from_path(&csv_path)
        .expect("open csv");
    let mut record = csv::StringRecord::new();
    while reader.read_record(&mut record).expect("parse") {}
    println!(
        "csv parse with UTF-8 checks (string records): {:.2} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let inferred =
        ingest::infer(Format::Csv, "OrderId", File::open(&csv_path).expect("open")).expect("infer");
    let infer = started.elapsed();
    let types: Vec<String> = inferred
        .schema
        .fields()
        .iter()
        .map(|f| format!("{}:{}", f.name, f.ty))
        .collect();
    println!(
        "first pass alone (check + infer): {:.2} s; schema {}",
        infer.as_secs_f64(),
        types.join(" ")
    );

    let started = Instant::now();
    let rows = ingest::read_rows(
        Format::Csv,
        &inferred.schema,
        File::open(&csv_path).expect("open"),
        |_, _| Ok(()),
    )
    .expect("second pass");
    println!(
        "second pass alone (typed rows, no store): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(rows, ROWS);

    let store = ItemStore::open(dir.path().join("engine")).expect("store");
    {
        let name = EntityName::parse("phases").expect("name");
        let mut writer = store
            .write(
                InstanceId::new(),
                &name,
                inferred.schema.clone(),
                &["CustomerId"],
            )
            .expect("writer");
        let started = Instant::now();
        ingest::read_rows(
            Format::Csv,
            &inferred.schema,
            File::open(&csv_path).expect("open"),
            |_, row| writer.push(row).map_err(ingest::IngestError::from),
        )
        .expect("second pass");
        let pushed = started.elapsed();
        let started = Instant::now();
        writer.commit().expect("commit");
        println!(
            "second pass into the store: {:.2} s; commit (sort indexes, write them, fsync, switch): {:.2} s",
            pushed.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );
    }
    let instance = InstanceId::new();
    let name = EntityName::parse("orders").expect("name");
    let rss_before = status_kib("VmRSS:");
    reset_peak_rss();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let entity = ingest::load(
        &store,
        instance,
        &name,
        Format::Csv,
        "OrderId",
        &["CustomerId"],
        || File::open(&csv_path),
    )
    .expect("ingest");
    let ingest_time = started.elapsed();
    let ingest_cpu = cpu_seconds() - cpu;
    let peak = status_kib("VmHWM:");
    let ingest_rate = ROWS as f64 / ingest_time.as_secs_f64();
    assert_eq!(entity.item_count(), ROWS);
    println!(
        "ingest (two passes, store, key and CustomerId indexes, fsync): {:.2} s, {ingest_rate:.0} rows/s = {:.0}% of parse-only",
        ingest_time.as_secs_f64(),
        100.0 * ingest_rate / parse_rate
    );
    println!("ingest CPU time (both threads): {ingest_cpu:.2} s");
    println!(
        "peak RSS during ingest: {:.1} MiB (RSS before: {:.1} MiB)",
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0
    );

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut samples = Vec::with_capacity(GETS);
    for _ in 0..GETS {
        let key = format!("ord-{:07}", rng.below(ROWS));
        let started = Instant::now();
        let item = entity.get_item(&key, None).expect("get");
        samples.push(started.elapsed());
        assert!(item.is_some(), "{key}");
    }
    println!(
        "GetItem ({GETS} random keys): p50 {}, p99 {}",
        ms(percentile(&mut samples, 0.50)),
        ms(percentile(&mut samples, 0.99))
    );

    let mut samples = Vec::with_capacity(LOOKUPS);
    let mut found = 0;
    for _ in 0..LOOKUPS {
        let text = format!("CustomerId eq {}", rng.below(CUSTOMERS));
        let started = Instant::now();
        let filter = Filter::parse(&text)
            .and_then(|f| f.bind(entity.schema()))
            .expect("filter");
        let page = entity
            .query(&Query {
                filter: Some(filter),
                top: 100,
                ..Query::default()
            })
            .expect("query");
        samples.push(started.elapsed());
        found += page.items.len();
    }
    println!(
        "indexed eq ($filter=CustomerId eq N, {LOOKUPS} random customers, {:.1} items each): p50 {}, p99 {}",
        found as f64 / LOOKUPS as f64,
        ms(percentile(&mut samples, 0.50)),
        ms(percentile(&mut samples, 0.99))
    );

    let scans = [
        "Amount gt 900 and City eq 'Paris'",
        "contains(Email, '99@') or Paid eq false and Quantity ge 9",
        "CreatedAt ge 2024-06-01 and not (Country in ('FR', 'DE'))",
    ];
    for text in scans {
        let filter = Filter::parse(text)
            .and_then(|f| f.bind(entity.schema()))
            .expect("filter");
        let mut times = Vec::with_capacity(SCANS);
        let mut count = 0;
        for _ in 0..SCANS {
            let started = Instant::now();
            count = entity.count(Some(&filter)).expect("scan");
            times.push(started.elapsed());
        }
        println!(
            "full scan $filter={text} over {ROWS} items ({count} match): median {}, best {}",
            ms(percentile(&mut times, 0.5)),
            ms(percentile(&mut times, 0.0))
        );
    }
    let filter = Filter::parse(scans[0])
        .and_then(|f| f.bind(entity.schema()))
        .expect("filter");
    let order_by =
        insights_connector::engine::items::parse_order_by("Amount desc", entity.schema())
            .expect("order");
    let started = Instant::now();
    let page = entity
        .query(&Query {
            filter: Some(filter),
            order_by,
            top: 100,
            ..Query::default()
        })
        .expect("query");
    println!(
        "full scan with $orderby=Amount desc, $top=100: {} ({} items)",
        ms(started.elapsed()),
        page.items.len()
    );
}
