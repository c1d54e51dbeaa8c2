//! Generates the gRPC/protobuf code for `src/proto.rs`.
//!
//! The `.proto` files under `proto/` are parsed by `protox` (pure Rust, so no
//! system `protoc` is needed) into a `FileDescriptorSet`, which `tonic-build`
//! turns into prost messages plus tonic servers and clients. Both sides are
//! generated: the provider serves them, and tests use the clients to play
//! Terraform.

use std::path::{Path, PathBuf};
use std::{env, fs, io};

use protox::prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?).join("proto");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", proto_dir.display());

    let mut files = Vec::new();
    collect_protos(&proto_dir, &mut files)?;
    files.sort();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }

    // The well-known google/protobuf/*.proto imports are served by protox
    // itself. Source info is kept so proto comments become rustdoc.
    let fds = protox::Compiler::new([&proto_dir])?
        .include_source_info(true)
        .include_imports(true)
        .open_files(&files)?
        .file_descriptor_set();

    // Encoded descriptor set (without source info) for reflection/debugging;
    // exposed as `proto::FILE_DESCRIPTOR_SET`.
    // The well-known types' comments hold C++/Java snippets that rustdoc would run as
    // doctests; generate them without comments.
    let mut fds = fds;
    for file in &mut fds.file {
        if file.name().starts_with("google/protobuf/") {
            file.source_code_info = None;
        }
    }

    let mut compact = fds.clone();
    for file in &mut compact.file {
        file.source_code_info = None;
    }
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join("tfplugin_descriptor.bin"),
        compact.encode_to_vec(),
    )?;

    tonic_build::configure()
        .build_server(true)
        .build_client(true)
        // Generate google.protobuf.Timestamp locally instead of pointing at
        // `prost_types`, which this crate does not depend on.
        .compile_well_known_types(true)
        // ...but keep google.protobuf.Empty as `()`, tonic's usual mapping.
        .extern_path(".google.protobuf.Empty", "()")
        .compile_fds(fds)?;

    Ok(())
}

/// Recursively collects every `*.proto` file below `dir`.
fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
