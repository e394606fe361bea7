from mibo.cli import main

main()
