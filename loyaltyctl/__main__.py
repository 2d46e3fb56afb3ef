from loyaltyctl.cli import main

main()
