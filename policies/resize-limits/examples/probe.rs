fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args[1] == "settings" {
        let answer = resize_limits::validate_settings(args[2].as_bytes()).unwrap();
        println!("{}", String::from_utf8_lossy(&answer));
        return;
    }
    let review: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&args[1]).unwrap()).unwrap();
    let settings: serde_json::Value = serde_json::from_str(&args[2]).unwrap();
    let payload = serde_json::json!({"request": review["request"], "settings": settings});
    let answer = resize_limits::validate(&serde_json::to_vec(&payload).unwrap()).unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    println!("{} {}", answer["accepted"], answer["message"]);
}
