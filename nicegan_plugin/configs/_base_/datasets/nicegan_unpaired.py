# Unpaired data (MMagic's layout: data_root/{trainA,trainB,testA,testB}) as the official code
# feeds it. A config states the data set's values below; the keys that follow from them are
# worked out when the config is built (nicegan_plugin/engine/config/derived_keys.py): the official
# pipelines (train: per-domain flip -> resize to load_size (PIL bilinear) -> random crop
# img_size; test: resize to img_size) with the domains' key mapping and PackInputs, each
# loader's data_root and pipeline, the model's domains, FID/KID metrics and best checkpoints.
domain_a = None  # the first domain's name (trainA, testA); set by the config
domain_b = None  # the second domain's name (trainB, testB); set by the config
data_root = None  # the folder holding trainA, trainB, testA, testB; set by the config
num_test_a = -1  # test-set sizes for FID/KID (every translated image); -1: count testA
num_test_b = -1  # and testB at run time
img_size = 256  # training size (random crop; test images are resized to it)
load_size = None  # resize before the random crop; None: img_size + 30 (the official 286)
dataset_type = 'NICEGANUnpairedImageDataset'  # MMagic's, with a start-up data check
train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, test_mode=True))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, test_mode=True))
