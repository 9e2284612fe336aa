//! `hasim run STORY.toml`: every telling of a story with the same seed (or
//! seeds), each telling's own report, then the comparison side by side.

use crate::cli::{shell_quote, RunArgs, EXIT_OK, EXIT_UNEXPECTED};
use hasim::scenario::Scenario;
use hasim::story::Story;

/// Outputs that belong to one scenario's run, refused for a story.
fn single_run_outputs(args: &RunArgs) -> Option<&'static str> {
    [
        ("--trace", args.trace.is_some()),
        ("--json", args.json.is_some()),
        ("--html", args.html.is_some()),
        ("--junit", args.junit.is_some()),
        ("--shard", args.shard.is_some()),
    ]
    .into_iter()
    .find_map(|(flag, given)| given.then_some(flag))
}

/// Run a story; errors are messages for exit status 2.
pub fn run(args: &RunArgs, story: &Story) -> Result<u8, String> {
    let path = args.scenario.display().to_string();
    if let Some(flag) = single_run_outputs(args) {
        return Err(format!(
            "{path}: a story of {} scenarios; {flag} applies to one scenario's run: give one of its scenario files ({})",
            story.tellings.len(),
            story
                .tellings
                .iter()
                .map(|t| t.scenario.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let scenarios = story
        .tellings
        .iter()
        .map(|t| Scenario::load(&t.scenario).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    hasim::guard::start(hasim::guard::Limits {
        max_wall: args.guard.max_wall.0,
        max_memory: args.guard.max_memory.0,
        run_length: None,
    });
    let met = match &args.seeds {
        Some(seeds) => campaigns(args, story, &scenarios, seeds)?,
        None => single_seed(args, story, &scenarios)?,
    };
    Ok(if met { EXIT_OK } else { EXIT_UNEXPECTED })
}

fn header(story: &Story, i: usize) -> String {
    let t = &story.tellings[i];
    format!(
        "== {} ({} of {}): {}\n",
        t.label,
        i + 1,
        story.tellings.len(),
        t.scenario.display()
    )
}

fn single_seed(args: &RunArgs, story: &Story, scenarios: &[Scenario]) -> Result<bool, String> {
    let seed = args.seed.unwrap_or(1);
    let mut reports = Vec::new();
    for (i, scenario) in scenarios.iter().enumerate() {
        let out = hasim::world::run(scenario, seed, None)?;
        let mut text = header(story, i) + &out.report.to_text();
        if !out.report.expectation_met() {
            let file = story.tellings[i].scenario.display().to_string();
            text += &format!(
                "replay: hasim replay {} --seed {seed} --trace seed-{seed}.trace.jsonl\n",
                shell_quote(&file)
            );
        }
        hasim::output::emit(&(text + "\n"))?;
        reports.push(out.report);
    }
    hasim::output::emit(&hasim::story::compare_runs(story, seed, &reports))?;
    Ok(reports.iter().all(|r| r.expectation_met()))
}

fn campaigns(
    args: &RunArgs,
    story: &Story,
    scenarios: &[Scenario],
    seeds: &std::ops::RangeInclusive<u64>,
) -> Result<bool, String> {
    let threads = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let control = hasim::shard::Control {
        stop: None,
        fail_fast: args.fail_fast,
        keep_outcomes: false,
    };
    // parse_seeds refuses u64::MAX as the last seed, so this cannot wrap.
    let range = *seeds.start()..seeds.end().saturating_add(1);
    let mut summaries = Vec::new();
    for (i, scenario) in scenarios.iter().enumerate() {
        let file = story.tellings[i].scenario.display().to_string();
        let run = hasim::shard::run(
            scenario,
            &file,
            range.clone(),
            None,
            threads,
            true,
            &control,
        );
        let text = format!(
            "{}{}{}\n",
            header(story, i),
            run.summary.to_text(),
            run.speed_line()
        );
        hasim::output::emit(&text)?;
        summaries.push(run.summary);
    }
    hasim::output::emit(&hasim::story::compare_campaigns(story, &summaries))?;
    Ok(summaries.iter().all(|s| s.all_met()))
}
