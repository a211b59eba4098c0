"""The scenarios, in the order the suite runs them; each is `async run(ctx) -> ScenarioResult`."""
