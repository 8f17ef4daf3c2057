# Unpaired data as the official code feeds it, built from MMagic's components.
# Official train transform (per domain, independent randomness):
#   RandomHorizontalFlip -> Resize((img+30, img+30)) PIL bilinear -> RandomCrop(img).
# Test: Resize((img, img)). The dataset config appends KeyMapper + PackInputs.
dataset_type = 'NICEGANUnpairedImageDataset'  # MMagic's, with a start-up data check
img_size = 256
load_size = img_size + 30
train_pipeline = [
    dict(type='LoadImageFromFile', key='img_A', color_type='color'),
    dict(type='LoadImageFromFile', key='img_B', color_type='color'),
    dict(type='Flip', keys=['img_A'], direction='horizontal'),
    dict(type='Flip', keys=['img_B'], direction='horizontal'),
    dict(type='Resize', keys=['img_A', 'img_B'], scale=(load_size, load_size),
         keep_ratio=False, interpolation='bilinear', backend='pillow'),
    dict(type='Crop', keys=['img_A'], crop_size=(img_size, img_size), random_crop=True),
    dict(type='Crop', keys=['img_B'], crop_size=(img_size, img_size), random_crop=True),
]
test_pipeline = [
    dict(type='LoadImageFromFile', key='img_A', color_type='color'),
    dict(type='LoadImageFromFile', key='img_B', color_type='color'),
    dict(type='Resize', keys=['img_A', 'img_B'], scale=(img_size, img_size),
         keep_ratio=False, interpolation='bilinear', backend='pillow'),
]
train_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=None, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=None, test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
