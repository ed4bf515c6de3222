"""The platform's fifteen components: facts gathered once, then checks as pure functions."""
