fn main() {
    #[cfg(madsim)]
    println!("sim");
    #[cfg(not(madsim))]
    println!("real");
}
