//! Generates the protocol 5 client (`tfplugin5`) the benchmark drives the Go null
//! provider with. Same approach as `crates/tfplugin/build.rs`: `protox` parses the
//! `.proto` in pure Rust (no system `protoc`), `tonic-build` generates prost messages
//! and, here, only the client.

use std::env;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("proto");
    let proto = proto_dir.join("tfplugin5.proto");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", proto.display());

    let fds = protox::Compiler::new([&proto_dir])?
        .include_imports(true)
        .open_files([&proto])?
        .file_descriptor_set();

    tonic_build::configure()
        .build_server(false)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
