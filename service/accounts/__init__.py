"""Official accounts (and admitted personal ones): the things whose passwords are in custody."""
