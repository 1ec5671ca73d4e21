//! Loads seed `config.toml` files (LLMServingTuner / msserviceprofiler layout) and prints, per
//! engine section, the number of fields, of PSO dimensions and the range-enum sizes — or the
//! error (with its line for TOML errors).
//!
//! Run: `cargo run -p perf-pso --example seed_config -- FILE.toml [FILE.toml …]`

use std::error::Error;
use std::path::Path;

use perf_pso::{FieldKind, SeedCompat, SeedConfig};

fn main() -> Result<(), Box<dyn Error>> {
    for arg in std::env::args().skip(1) {
        match SeedConfig::from_path(Path::new(&arg)) {
            Err(e) => println!("{arg}: rejected: {e}"),
            Ok(cfg) => {
                for engine in perf_pso::seed_config::ENGINES {
                    let has = cfg
                        .raw
                        .get(*engine)
                        .and_then(|s| s.get("target_field"))
                        .is_some()
                        || cfg.optimizer_engine().0.as_deref() == Some(*engine);
                    if !has {
                        continue;
                    }
                    match cfg.search_space(engine, None, true, SeedCompat::Seed) {
                        Ok(space) => {
                            let enums: Vec<usize> = space
                                .fields()
                                .iter()
                                .filter_map(|f| match &f.kind {
                                    FieldKind::Enum { values } => Some(values.len()),
                                    _ => None,
                                })
                                .collect();
                            println!(
                                "{arg}: {engine}: {} fields, {} dimensions, enum sizes {enums:?}",
                                space.fields().len(),
                                space.dimensions()
                            );
                        }
                        Err(e) => println!("{arg}: {engine}: error: {e}"),
                    }
                }
                let p = cfg.pso_params(0)?;
                println!(
                    "{arg}: n_particles {} iters {} c1 {} c2 {} w {} ftol {}; {} warnings",
                    p.n_particles,
                    p.iters,
                    p.c1,
                    p.c2,
                    p.w,
                    p.ftol,
                    cfg.warnings.len()
                );
            }
        }
    }
    Ok(())
}
