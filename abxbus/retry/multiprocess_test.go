package retry_test

func childMain(mode string) int { return 2 }
