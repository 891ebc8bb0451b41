from fog.cli import main

main()
