# In a configuration that uses the images another one bakes: the newest image
# baked by the amibake_image resources tagged image = "golden-linux", in the
# provider's Region, and its copy in eu-central-1.
data "amibake_image" "golden" {
  tags = {
    image = "golden-linux"
  }
  copy_regions = ["eu-central-1"]
}

# Exactly one recipe with its parameters and triggers: the bake_key of its
# amibake_image (an output of the configuration that bakes it).
data "amibake_image" "pinned" {
  bake_key = "3f0c2a9e4b7d41c8a5e6f7081920a1b2"
  region   = "eu-west-1"
}

output "golden_image_id" {
  value = data.amibake_image.golden.image_id
}

output "golden_image_id_in_frankfurt" {
  value = data.amibake_image.golden.copies["eu-central-1"]
}
