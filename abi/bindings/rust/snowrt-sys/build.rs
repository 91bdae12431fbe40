//! Finds libsnowrt and tells cargo how to link it. No crates: it runs the
//! `pkg-config` program itself, so a build needs no network.
//!
//! Where the library comes from, first match wins:
//! 1. `SNOWRT_LIB_DIR`: the directory holding libsnowrt.so (shared) or
//!    libsnowrt.a (static). A static link takes the archive's own
//!    dependencies from `$SNOWRT_LIB_DIR/pkgconfig/snowrt-static.pc` (an
//!    installed prefix has it) or, failing that, from pkg-config's search
//!    path.
//! 2. pkg-config (the program named by `$PKG_CONFIG`, default `pkg-config`;
//!    `PKG_CONFIG_PATH` as usual): module `snowrt` when linking shared,
//!    `snowrt-static` when linking statically.
//!
//! Static linking: the `static` feature, or `SNOWRT_STATIC=1`
//! (`SNOWRT_STATIC=0` forces shared even with the feature).
//!
//! It also selects the `extern` block syntax for the compiler (see
//! `extern_c!` in src/lib.rs): rustc before 1.82 cannot parse
//! `unsafe extern "C"`.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    for var in ["SNOWRT_LIB_DIR", "SNOWRT_STATIC", "PKG_CONFIG", "PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR"] {
        println!("cargo:rerun-if-env-changed={}", var);
    }
    println!("cargo:rerun-if-changed=build.rs");
    select_extern_syntax();

    let static_link = match env::var("SNOWRT_STATIC").ok().as_deref() {
        Some("1") | Some("yes") | Some("true") => true,
        Some("0") | Some("no") | Some("false") => false,
        _ => env::var_os("CARGO_FEATURE_STATIC").is_some(),
    };
    let result = match env::var_os("SNOWRT_LIB_DIR") {
        Some(dir) => link_from_dir(Path::new(&dir), static_link),
        None => link_from_pkg_config(static_link, None),
    };
    if let Err(e) = result {
        eprintln!("snowrt-sys: cannot find libsnowrt: {}", e);
        eprintln!(
            "snowrt-sys: install libsnowrt (docs/using.md) and set PKG_CONFIG_PATH to its \
             lib/pkgconfig, or set SNOWRT_LIB_DIR to the directory holding libsnowrt.so / libsnowrt.a"
        );
        std::process::exit(1);
    }
}

/// Sets `snowrt_sys_plain_extern` when rustc is older than 1.82.
fn select_extern_syntax() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = Command::new(rustc).arg("--version").output().ok().and_then(|o| String::from_utf8(o.stdout).ok());
    let minor = version.as_deref().and_then(rustc_minor_version).unwrap_or(u32::MAX);
    if minor >= 80 {
        // Declares the cfg to rustc's cfg checking (an older cargo warns
        // that the line needs a nightly flag).
        println!("cargo:rustc-check-cfg=cfg(snowrt_sys_plain_extern)");
    }
    if minor < 82 {
        println!("cargo:rustc-cfg=snowrt_sys_plain_extern");
    }
}

/// "rustc 1.63.0 (...)" -> 63 (Rust 1.x only).
fn rustc_minor_version(version: &str) -> Option<u32> {
    let number = version.split_whitespace().nth(1)?;
    let mut parts = number.split('.');
    if parts.next()? != "1" {
        return None;
    }
    parts.next()?.parse().ok()
}

fn link_from_dir(dir: &Path, static_link: bool) -> Result<(), String> {
    let file = dir.join(if static_link { "libsnowrt.a" } else { "libsnowrt.so" });
    if !file.exists() {
        return Err(format!("SNOWRT_LIB_DIR={} has no {}", dir.display(), file.display()));
    }
    println!("cargo:rerun-if-changed={}", file.display());
    if !static_link {
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=dylib=snowrt");
        println!("cargo:lib_dir={}", dir.display());
        return Ok(());
    }
    // The archive's dependencies: the .pc file installed next to it first.
    link_from_pkg_config(true, Some(&dir.join("pkgconfig")))
        .map_err(|e| format!("{} (a static link through SNOWRT_LIB_DIR needs snowrt-static.pc)", e))
}

/// Runs pkg-config for `snowrt` or `snowrt-static` and turns its flags into
/// cargo directives. `extra_path` goes before `PKG_CONFIG_PATH`.
fn link_from_pkg_config(static_link: bool, extra_path: Option<&Path>) -> Result<(), String> {
    let module = if static_link { "snowrt-static" } else { "snowrt" };
    let program = env::var_os("PKG_CONFIG").unwrap_or_else(|| "pkg-config".into());
    let mut cmd = Command::new(&program);
    cmd.args(["--libs", module]);
    if let Some(extra) = extra_path {
        let mut paths = vec![extra.to_path_buf()];
        if let Some(old) = env::var_os("PKG_CONFIG_PATH") {
            paths.extend(env::split_paths(&old));
        }
        cmd.env("PKG_CONFIG_PATH", env::join_paths(paths).map_err(|e| e.to_string())?);
    }
    let out = cmd.output().map_err(|e| format!("cannot run {:?}: {}", program, e))?;
    if !out.status.success() {
        return Err(format!(
            "{:?} --libs {} failed: {}",
            program,
            module,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let flags = String::from_utf8(out.stdout).map_err(|_| "pkg-config printed non-UTF-8 flags".to_string())?;
    for directive in cargo_directives(&flags)? {
        println!("{}", directive);
    }
    Ok(())
}

/// Translates linker flags from pkg-config into cargo directives: `-L dir`,
/// `-l name`, and a path to a library file (snowrt-static.pc names the
/// archive itself so that no linker can pick the shared library instead).
fn cargo_directives(flags: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut found_snowrt = false;
    for flag in flags.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            out.push(format!("cargo:rustc-link-search=native={}", dir));
        } else if let Some(name) = flag.strip_prefix("-l") {
            if name == "snowrt" {
                found_snowrt = true;
                out.push("cargo:rustc-link-lib=dylib=snowrt".to_string());
            } else {
                out.push(format!("cargo:rustc-link-lib={}", name));
            }
        } else if flag.ends_with(".a") || flag.ends_with(".so") {
            let path = PathBuf::from(flag);
            let dir = path.parent().ok_or_else(|| format!("bad library path {}", flag))?;
            let file = path.file_name().and_then(|f| f.to_str()).unwrap_or_default();
            let kind = if flag.ends_with(".a") { "static" } else { "dylib" };
            let name = file
                .strip_prefix("lib")
                .and_then(|f| f.strip_suffix(".a").or_else(|| f.strip_suffix(".so")))
                .ok_or_else(|| format!("cannot name the library {}", flag))?;
            found_snowrt |= name == "snowrt";
            println!("cargo:rerun-if-changed={}", flag);
            out.push(format!("cargo:rustc-link-search=native={}", dir.display()));
            out.push(format!("cargo:rustc-link-lib={}={}", kind, name));
        } else if flag == "-pthread" {
            out.push("cargo:rustc-link-lib=pthread".to_string());
        }
        // Other flags (none in snowrt.pc today) have no cargo equivalent for
        // a library crate; they are left out.
    }
    if !found_snowrt {
        return Err(format!("pkg-config named no libsnowrt in {:?}", flags.trim()));
    }
    // The first search directory goes to dependents' build scripts as
    // DEP_SNOWRT_LIB_DIR.
    let first_dir = out.iter().find_map(|d| d.strip_prefix("cargo:rustc-link-search=native="));
    if let Some(dir) = first_dir {
        let export = format!("cargo:lib_dir={}", dir);
        out.push(export);
    }
    Ok(out)
}
