//! `glib_order::iteration_order` against the GLib Pacemaker runs on: a
//! small C program built here inserts the same keys into a real
//! `GHashTable` (string keys, `g_str_hash`) and prints its iteration order.
//! Runs where GLib and a C compiler are installed (CI=true: must run, as
//! crm_simulate, which the differential tests need, brings GLib).

use std::path::PathBuf;
use std::process::Command;

use hasim_scheduler::glib_order::iteration_order;

const PROGRAM: &str = r#"
#include <stdio.h>
typedef void *gpointer;
typedef int gboolean;
typedef struct { gpointer a, b, c; int d; gboolean e; gpointer f; } Iter;
extern gpointer g_hash_table_new(gpointer, gpointer);
extern void g_hash_table_insert(gpointer, gpointer, gpointer);
extern void g_hash_table_iter_init(Iter *, gpointer);
extern gboolean g_hash_table_iter_next(Iter *, gpointer *, gpointer *);
extern unsigned g_str_hash(gpointer);
extern gboolean g_str_equal(gpointer, gpointer);
int main(int argc, char **argv) {
    gpointer table = g_hash_table_new(g_str_hash, g_str_equal);
    for (int i = 1; i < argc; i++) g_hash_table_insert(table, argv[i], (gpointer)(long)i);
    Iter it; gpointer k, v;
    g_hash_table_iter_init(&it, table);
    while (g_hash_table_iter_next(&it, &k, &v)) printf("%s\n", (char *)k);
    return 0;
}
"#;

fn glib() -> Option<PathBuf> {
    let out = Command::new("ldconfig").arg("-p").output().ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.trim_start().starts_with("libglib-2.0.so.0 "))
        .and_then(|l| l.rsplit("=> ").next())
        .map(|p| PathBuf::from(p.trim()))
}

fn real_order_program() -> Option<PathBuf> {
    let dir = std::env::temp_dir().join(format!("hasim-glib-order-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let source = dir.join("order.c");
    let binary = dir.join("order");
    std::fs::write(&source, PROGRAM).ok()?;
    let built = Command::new("cc")
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .arg(glib()?)
        .status()
        .ok()?;
    built.success().then_some(binary)
}

fn real_order(program: &PathBuf, keys: &[String]) -> Vec<String> {
    let out = Command::new(program).args(keys).output().expect("run");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Key sets of the shapes Pacemaker tables have: numeric node ids, node
/// names, remote node names; from 1 key to past several resizes.
fn key_sets() -> Vec<Vec<String>> {
    let mut sets = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for n in [1usize, 2, 3, 5, 7, 8, 13, 16, 32, 33, 100, 257, 1003] {
        sets.push((1..=n).map(|i| i.to_string()).collect());
        sets.push((1..=n).map(|i| format!("node{i}")).collect());
        sets.push(
            (0..n)
                .map(|_| format!("remote-{}", next() % 5000))
                .collect(),
        );
    }
    sets
}

#[test]
fn iteration_order_is_glibs() {
    let Some(program) = real_order_program() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "GLib or cc missing but CI=true"
        );
        eprintln!("SKIP iteration_order_is_glibs: no GLib or C compiler");
        return;
    };
    for keys in key_sets() {
        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
        let ours: Vec<String> = iteration_order(&refs)
            .into_iter()
            .map(|i| keys[i].clone())
            .collect();
        assert_eq!(
            ours,
            real_order(&program, &keys),
            "keys {:?}",
            &keys[..keys.len().min(8)]
        );
    }
}
