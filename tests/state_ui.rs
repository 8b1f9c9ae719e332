//! Compile-fail tests: what a state cannot do does not compile, and says which
//! transition to call.

#[test]
fn wrong_state_calls_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/state/*.rs");
}
