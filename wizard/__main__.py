from screens.entry import main

main()
