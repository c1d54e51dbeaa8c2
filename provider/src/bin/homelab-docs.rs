//! Writes the registry docs (`docs/index.md`, `docs/resources/*.md`) from the provider's
//! own schema and the examples. Run by `make docs`; `make test` checks they are current.

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(examples), Some(out)) = (args.next(), args.next()) else {
        eprintln!("usage: homelab-docs <examples-dir> <docs-dir>");
        return std::process::ExitCode::from(2);
    };
    match terraform_provider_homelab::docs::generate(examples.as_ref(), out.as_ref()) {
        Ok(written) => {
            for path in written {
                println!("wrote {}", path.display());
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("homelab-docs: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
