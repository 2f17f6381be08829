//! Splitting throughput: what counting chunk sizes in tokens (cl100k, as
//! ingestion does) costs against the cheapest split text-splitter offers,
//! chunks sized in characters, on the same ~1 MB of English or Chinese prose.
//!
//! `cargo bench --bench split` (or `bench/split.sh` for the table with ratios)

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use ragway::ingest::extract::Format;
use ragway::ingest::split::split;
use text_splitter::{ChunkConfig, TextSplitter};

/// Size of each generated text, in bytes (approximately: whole sentences).
const TARGET_BYTES: usize = 1_000_000;

/// A small deterministic generator (xorshift64*), so every run splits the same text.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const EN_SUBJECTS: &[&str] = &[
    "The harbour master",
    "Every new employee",
    "Our finance team",
    "The night ferry",
    "A careful reader",
    "The quarterly report",
    "Most travellers",
    "The lighthouse keeper",
    "This policy",
    "The regional office",
    "Each project lead",
    "The maintenance crew",
    "Customers in the northern district",
    "The training programme",
    "An experienced engineer",
];
const EN_VERBS: &[&str] = &[
    "reviews",
    "schedules",
    "approves",
    "records",
    "explains",
    "publishes",
    "inspects",
    "postpones",
    "summarises",
    "reimburses",
    "tracks",
    "compares",
    "announces",
    "updates",
];
const EN_OBJECTS: &[&str] = &[
    "the tide tables for the coming week",
    "travel expenses above the usual limit",
    "the safety checklist before departure",
    "twenty-five days of annual leave",
    "the budget for the spring workshop",
    "every incident in the shared log",
    "the changes to the evening timetable",
    "the contract with the catering supplier",
    "the results of the customer survey",
    "repairs to the old pier",
    "the onboarding handbook",
    "fuel consumption across the fleet",
];
const EN_TAILS: &[&str] = &[
    "",
    "",
    " before the end of the month",
    " whenever the weather turns",
    " in close cooperation with the local council",
    ", although nobody asked for it",
    " so that the next shift knows what happened",
    " after a short discussion with the board",
    " at least twice a year",
    ", which saves everyone a great deal of time",
    " unless the director decides otherwise",
];
const EN_OPENERS: &[&str] = &[
    "",
    "",
    "",
    "In practice, ",
    "Since last spring, ",
    "According to the handbook, ",
    "On rare occasions, ",
    "As a rule, ",
    "Meanwhile, ",
];
const EN_ENDS: &[&str] = &[".", ".", ".", ".", "!", "?"];

/// English prose: sentences of varied shape, 3–8 to a paragraph; with
/// `headings`, a markdown heading every few paragraphs.
fn english(seed: u64, headings: bool) -> String {
    let mut rng = Rng(seed);
    let mut out = String::with_capacity(TARGET_BYTES + 4096);
    let mut paragraph = 0;
    while out.len() < TARGET_BYTES {
        if headings && paragraph % 5 == 0 {
            let level = if paragraph % 20 == 0 { "#" } else { "##" };
            out.push_str(&format!(
                "{level} Section {}: {}\n\n",
                paragraph / 5 + 1,
                rng.pick(EN_OBJECTS)
            ));
        }
        for _ in 0..3 + rng.below(6) {
            let opener = rng.pick(EN_OPENERS);
            let mut subject = rng.pick(EN_SUBJECTS).to_string();
            if !opener.is_empty() {
                subject = subject.to_lowercase();
            }
            out.push_str(opener);
            out.push_str(&subject);
            out.push(' ');
            out.push_str(rng.pick(EN_VERBS));
            out.push(' ');
            out.push_str(rng.pick(EN_OBJECTS));
            out.push_str(rng.pick(EN_TAILS));
            if rng.below(3) == 0 {
                out.push_str(" and ");
                out.push_str(rng.pick(EN_VERBS));
                out.push(' ');
                out.push_str(rng.pick(EN_OBJECTS));
            }
            out.push_str(rng.pick(EN_ENDS));
            out.push(' ');
        }
        out.pop();
        out.push_str("\n\n");
        paragraph += 1;
    }
    out
}

const ZH_SUBJECTS: &[&str] = &[
    "公司",
    "每位新员工",
    "财务部",
    "夜班渡轮",
    "港务局",
    "项目负责人",
    "人力资源部",
    "维修团队",
    "北区的客户",
    "培训计划",
    "经验丰富的工程师",
    "管理委员会",
];
const ZH_VERBS: &[&str] = &[
    "审核", "安排", "批准", "记录", "说明", "发布", "检查", "推迟", "汇总", "报销", "跟踪", "比较",
    "更新",
];
const ZH_OBJECTS: &[&str] = &[
    "下周的潮汐时间表",
    "超出标准的差旅费用",
    "出发前的安全检查清单",
    "每年二十五天的带薪年假",
    "春季研讨会的预算",
    "共享日志中的每一起事故",
    "晚间时刻表的调整",
    "与餐饮供应商签订的合同",
    "客户满意度调查的结果",
    "旧码头的维修工作",
    "入职手册",
    "整个船队的燃油消耗",
];
const ZH_TAILS: &[&str] = &[
    "",
    "",
    "，并在月底之前完成",
    "，天气变化时尤其如此",
    "，同时与当地政府密切合作",
    "，以便下一班的同事了解情况",
    "，经过董事会的简短讨论之后",
    "，每年至少两次",
    "，这为大家节省了大量时间",
    "，除非主管另有决定",
];
const ZH_OPENERS: &[&str] = &[
    "",
    "",
    "",
    "实际上，",
    "自去年春天起，",
    "根据员工手册，",
    "在少数情况下，",
    "通常，",
    "与此同时，",
];
const ZH_ENDS: &[&str] = &["。", "。", "。", "。", "！", "？"];

/// Chinese prose: sentences ending in 。！？, 3–8 to a paragraph.
fn chinese(seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut out = String::with_capacity(TARGET_BYTES + 4096);
    while out.len() < TARGET_BYTES {
        for _ in 0..3 + rng.below(6) {
            out.push_str(rng.pick(ZH_OPENERS));
            out.push_str(rng.pick(ZH_SUBJECTS));
            out.push_str(["应当", "需要", "可以", "必须", "会"][rng.below(5)]);
            out.push_str(rng.pick(ZH_VERBS));
            out.push_str(rng.pick(ZH_OBJECTS));
            out.push_str(rng.pick(ZH_TAILS));
            out.push_str(rng.pick(ZH_ENDS));
        }
        out.push_str("\n\n");
    }
    out
}

fn bench_splitting(c: &mut Criterion) {
    let inputs = [
        (
            "english",
            Format::Text,
            english(0x9E37_79B9_7F4A_7C15, false),
        ),
        ("chinese", Format::Text, chinese(0xD1B5_4A32_D192_ED03)),
        (
            "english_markdown",
            Format::Markdown,
            english(0x94D0_49BB_1331_11EB, true),
        ),
    ];
    let by_chars = TextSplitter::new(ChunkConfig::new(2048));
    for (name, format, text) in &inputs {
        let mut group = c.benchmark_group(format!("split/{name}"));
        group
            .throughput(Throughput::Bytes(text.len() as u64))
            // One iteration takes tens to hundreds of milliseconds.
            .sampling_mode(SamplingMode::Flat)
            .sample_size(10)
            .warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(8));
        group.bench_function("chars_2048", |b| {
            b.iter(|| by_chars.chunks(black_box(text)).count());
        });
        group.bench_function("tokens_512_overlap_64", |b| {
            b.iter(|| split(*format, black_box(text), 512, 64).len());
        });
        group.finish();
    }
}

criterion_group!(benches, bench_splitting);
criterion_main!(benches);
