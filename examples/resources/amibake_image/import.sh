# An existing AMI is adopted by its id; the next apply records the recipe without rebaking.
terraform import amibake_image.linux ami-0123456789abcdef0
