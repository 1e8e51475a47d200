fn main() {
    println!("casebook-ghl-gateway");
}
